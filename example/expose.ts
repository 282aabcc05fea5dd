import { connect, createServer, type Server, type Socket } from 'node:net'
import { networkInterfaces } from 'node:os'

/** A loopback port made reachable on other addresses too. */
export interface ExposedPort {
  addresses: string[]
  close: () => Promise<void>
}

/** This machine's non-loopback IPv4 addresses (in a container: its network address). */
export function externalAddresses (): string[] {
  return Object.values(networkInterfaces()).flat()
    .filter((a) => a !== undefined && !a.internal && a.family === 'IPv4')
    .map((a) => a?.address ?? '')
    .filter((a) => a !== '')
}

function pipeTo (port: number, target: string) {
  return (socket: Socket): void => {
    const upstream = connect(port, target)
    socket.pipe(upstream).pipe(socket)
    socket.on('error', () => { upstream.destroy() })
    upstream.on('error', () => { socket.destroy() })
    socket.on('close', () => { upstream.destroy() })
    upstream.on('close', () => { socket.destroy() })
  }
}

/**
 * Forwards `port` on each of `addresses` to the same port on 127.0.0.1.
 *
 * Why: in a container the sandbox practice must be reachable from the
 * browser at the URLs it puts in its redirects (http://127.0.0.1:PORT, the
 * published port), while those same URLs are what the host and the worker
 * call from inside the container. Listening on 127.0.0.1 for the inside and
 * forwarding the container's own address gives one URL that works on both
 * sides, with no change to the sandbox.
 */
export async function exposeLoopbackPort (port: number, addresses: string[] = externalAddresses(), target = '127.0.0.1'): Promise<ExposedPort> {
  const servers: Server[] = []
  const sockets = new Set<Socket>()
  const forward = pipeTo(port, target)
  const close = async (): Promise<void> => {
    for (const socket of sockets) socket.destroy()
    await Promise.all(servers.map(async (s) => { await new Promise((resolve) => s.close(resolve)) }))
  }
  try {
    for (const address of addresses) {
      const server = createServer((socket) => {
        sockets.add(socket)
        socket.on('close', () => sockets.delete(socket))
        forward(socket)
      })
      servers.push(server)
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, address, () => { server.off('error', reject); resolve() })
      })
    }
  } catch (err) {
    await close()
    throw err
  }
  return { addresses: [...addresses], close }
}
