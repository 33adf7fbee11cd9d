import { describe, expect, it } from 'vitest'
import { nginxConfig } from '../lib/nginx.ts'

const options = { dir: '/tmp/bench-nginx-x', port: 8080, upstream: '127.0.0.1:3001', accessLog: true }

describe('nginxConfig', () => {
  it('runs one worker in the foreground with its pid file in the run directory', () => {
    const config = nginxConfig(options)
    expect(config).toMatch(/^daemon off;$/m)
    expect(config).toMatch(/^worker_processes 1;$/m)
    expect(config).toMatch(/^pid \/tmp\/bench-nginx-x\/nginx\.pid;$/m)
  })

  it('keeps connections to the upstream alive over HTTP/1.1', () => {
    const config = nginxConfig(options)
    expect(config).toMatch(/upstream backend \{\s+server 127\.0\.0\.1:3001;\s+keepalive 64;/)
    expect(config).toContain('proxy_http_version 1.1;')
    // Without clearing it, nginx sends "Connection: close" upstream and the pool stays empty.
    expect(config).toContain('proxy_set_header Connection "";')
    expect(config).toContain('listen 127.0.0.1:8080;')
  })

  it('writes a buffered access log into the run directory, or none', () => {
    expect(nginxConfig(options)).toContain('access_log /tmp/bench-nginx-x/access.log combined buffer=64k flush=1s;')
    const quiet = nginxConfig({ ...options, accessLog: false })
    expect(quiet).toContain('access_log off;')
    expect(quiet).not.toContain('access.log')
  })

  it('keeps every path it writes inside the run directory', () => {
    const paths = [...nginxConfig(options).matchAll(/^\s*(?:pid|error_log|access_log|\w+_temp_path) (\/\S+?);?(?:\s|$)/gm)].map(
      (match) => match[1],
    )
    expect(paths.length).toBeGreaterThanOrEqual(8)
    for (const path of paths) expect(path).toMatch(/^\/tmp\/bench-nginx-x\//)
  })

  it('balances its braces', () => {
    const config = nginxConfig(options)
    expect(config.split('{').length).toBe(config.split('}').length)
  })
})
