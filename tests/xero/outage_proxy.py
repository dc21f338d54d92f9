"""A TCP relay the fault tests put between the workers and PostgreSQL, to stop the
database as far as the workers can tell (the test machine's PostgreSQL is shared and must
not be stopped itself).

``python outage_proxy.py HOST PORT`` relays 127.0.0.1:<a free port> to HOST:PORT and prints
that port. SIGUSR1: the database goes away (every open connection is cut, new ones are
refused: nothing listens on the port). SIGUSR2: it is back, on the same port.
"""

import asyncio
import signal
import sys


async def main(host: str, port: int) -> None:
    pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
    listening: list[asyncio.Server] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def relay(client_reader, client_writer) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
        except OSError:
            client_writer.transport.abort()
            return
        pair = (client_writer, upstream_writer)
        pairs.add(pair)
        try:
            await asyncio.gather(
                pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer)
            )
        finally:
            pairs.discard(pair)

    async def listen(on: int) -> int:
        server = await asyncio.start_server(relay, "127.0.0.1", on, reuse_address=True)
        listening.append(server)
        return server.sockets[0].getsockname()[1]

    mine = await listen(0)
    print(mine, flush=True)

    def stop() -> None:
        while listening:
            listening.pop().close()
        for pair in list(pairs):
            for writer in pair:
                writer.transport.abort()

    def start() -> None:
        asyncio.get_running_loop().create_task(listen(mine))

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, stop)
    loop.add_signal_handler(signal.SIGUSR2, start)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
