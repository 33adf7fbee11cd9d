// Reads a server's stdout (its fd 0 here) as fast as it comes, counting lines and bytes, keeping
// nothing. Answers every IPC message with the counts so far. See LogDrain in proc.ts.
let lines = 0
let bytes = 0
process.stdin.on('data', (chunk: Buffer) => {
  bytes += chunk.length
  for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines += 1
})
process.on('message', () => process.send?.({ lines, bytes }))
process.on('disconnect', () => process.exit(0))
