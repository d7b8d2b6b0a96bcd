"""Run the fake BlueZ as a process: `python -m tests.fakebluez [--unpowered] [--no-monitor-api]
[--crowd N --minutes M --speed K]`. Prints READY once it owns org.bluez on DBUS_SYSTEM_BUS_ADDRESS.

Control interface (org.bluezaudit.FakeBlueZ1 at /org/bluezaudit/fakebluez): Advertise(ssnayay),
AdvertiseBatch(a(ssnayay)), SetPowered(b), State() -> JSON, Play() starts the crowd playback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time

from dbus_fast import Message

from tests.fakebluez.service import FakeBlueZ


class Player:
    def __init__(self, fake: FakeBlueZ, devices: int, minutes: float, speed: float) -> None:
        self.fake, self.devices, self.minutes, self.speed = fake, devices, minutes, speed
        self.sent = 0
        self.behind_s = 0.0
        self.done = False
        self.task: asyncio.Task[None] | None = None

    async def play(self) -> None:
        from tests.live.scene import QUARTER, crowd_scene

        wall0 = time.monotonic()
        for tx in crowd_scene(self.devices, self.minutes):
            due = (tx.t - QUARTER) / self.speed
            ahead = due - (time.monotonic() - wall0)
            if ahead > 0.005:
                await asyncio.sleep(ahead)
            elif self.sent % 200 == 0:
                await asyncio.sleep(0)  # let replies and the bus breathe
            while self.fake.backlogged():
                await asyncio.sleep(0.0005)
            self.behind_s = max(self.behind_s, -ahead)
            self.fake.advertise(tx.address, tx.rssi, tx.adv, tx.scan_rsp)
            self.sent += 1
        self.done = True


async def amain(args: argparse.Namespace) -> None:
    fake = FakeBlueZ(powered=not args.unpowered, monitor_api=not args.no_monitor_api)
    player = Player(fake, args.crowd, args.minutes, args.speed)
    control = fake._control

    def extended(msg: Message) -> Message:
        if msg.member == "Play":
            player.task = asyncio.get_running_loop().create_task(player.play())
            return Message.new_method_return(msg)
        if msg.member == "PlayState":
            state = {
                "sent": player.sent,
                "done": player.done,
                "behind_s": player.behind_s,
                "reports": fake.reports,
                "dropped": fake.dropped,
            }
            return Message.new_method_return(msg, "s", [json.dumps(state)])
        return control(msg)

    fake._control = extended  # type: ignore[method-assign]
    await fake.start()
    print("READY", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    await fake.stop()


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m tests.fakebluez")
    p.add_argument("--unpowered", action="store_true")
    p.add_argument("--no-monitor-api", action="store_true")
    p.add_argument("--crowd", type=int, default=1500)
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--speed", type=float, default=4.0)
    asyncio.run(amain(p.parse_args()))


if __name__ == "__main__":
    main()
