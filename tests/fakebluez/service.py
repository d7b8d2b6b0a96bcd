"""A fake `org.bluez` on a private system bus, faithful where bleak's scanner can tell.

Modelled on bluetoothd (adapter.c, device.c, eir.c, adv_monitor.c) as recorded in
shared/test-infra.md §3: objects appear with `InterfacesAdded` from `/`, later reports are
`PropertiesChanged` carrying only what changed, identical repeats emit nothing, manufacturer and
service data merge unless a session asked for `DuplicateData`, RSSI/TxPower are invalidated when
discovery stops, and advertisement monitors match or-patterns against the advertising PDU only.
One raw message handler, no ServiceInterface exports (those would send signals from the wrong path).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import select
from dataclasses import dataclass, field
from typing import Any

from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from tests.fakebluez import eir

log = logging.getLogger(__name__)

BLUEZ = "org.bluez"
ADAPTER = "org.bluez.Adapter1"
DEVICE = "org.bluez.Device1"
MONITOR_MANAGER = "org.bluez.AdvertisementMonitorManager1"
MONITOR = "org.bluez.AdvertisementMonitor1"
PROPS = "org.freedesktop.DBus.Properties"
OBJMGR = "org.freedesktop.DBus.ObjectManager"
CONTROL = "org.bluezaudit.FakeBlueZ1"
CONTROL_PATH = "/org/bluezaudit/fakebluez"
_FILTER_KEYS = {
    "UUIDs",
    "RSSI",
    "Pathloss",
    "Transport",
    "DuplicateData",
    "Discoverable",
    "Pattern",
}
_STD_IFACES = ["org.freedesktop.DBus.Introspectable", PROPS]


class _Err(Exception):
    def __init__(self, name: str, text: str) -> None:
        super().__init__(text)
        self.name, self.text = name, text


@dataclass(slots=True)
class Monitor:
    sender: str
    root: str
    path: str | None = None
    patterns: list[tuple[int, int, bytes]] = field(default_factory=list)
    active: bool = False
    found: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Device:
    path: str
    adapter: str
    props: dict[str, Variant]


@dataclass(slots=True)
class Adapter:
    name: str
    address: str
    powered: bool = True
    discovering: bool = False
    sessions: set[str] = field(default_factory=set)
    filters: dict[str, dict[str, Any]] = field(default_factory=dict)
    monitors: dict[tuple[str, str], Monitor] = field(default_factory=dict)
    devices: dict[str, Device] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return f"/org/bluez/{self.name}"


class FakeBlueZ:
    """The service. `await start()`, inject with `advertise(...)`, `await stop()`.

    Runs in the caller's event loop on its own bus connection, or as a process (`__main__`).
    """

    def __init__(
        self,
        adapters: tuple[str, ...] = ("hci0",),
        *,
        powered: bool = True,
        monitor_api: bool = True,
        roles: tuple[str, ...] = ("central", "peripheral"),
    ) -> None:
        self.adapters = {
            name: Adapter(name, f"00:1A:7D:DA:71:{i:02X}", powered=powered)
            for i, name in enumerate(adapters, start=0x10)
        }
        self.monitor_api = monitor_api
        self.roles = list(roles)
        self.calls: list[tuple[str, str, Any]] = []
        self.reports = 0  # signals that make bleak run its advertisement callbacks for an advert
        self.dropped = 0
        self.bus: MessageBus | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        self.bus = bus
        _tolerate_eagain(bus)
        bus.add_message_handler(self._handle)
        for rule in (
            "type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged'",
            f"type='signal',interface='{OBJMGR}',member='InterfacesAdded'",
        ):
            await bus.call(
                Message(
                    destination="org.freedesktop.DBus",
                    path="/org/freedesktop/DBus",
                    interface="org.freedesktop.DBus",
                    member="AddMatch",
                    signature="s",
                    body=[rule],
                )
            )
        await bus.request_name(BLUEZ)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self.bus is not None:
            self.bus.disconnect()
            # Teardown must not mask the test's own outcome.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.bus.wait_for_disconnect(), 2)
            self.bus = None

    # ---- injection -------------------------------------------------------------------------

    def advertise(
        self,
        address: str,
        rssi: int,
        adv: bytes,
        scan_rsp: bytes = b"",
        *,
        address_type: str = "random",
        adapter: str = "hci0",
    ) -> bool:
        """One advertising report from the radio; True when it reached D-Bus (a report or not)."""
        a = self.adapters[adapter]
        if not a.powered:
            self.dropped += 1
            return False
        active = bool(a.sessions) and self._filter_passes(a, rssi, adv, scan_rsp)
        matching = [
            m for m in a.monitors.values() if m.active and eir.pattern_matches(adv, m.patterns)
        ]
        if not active and not matching:
            self.dropped += 1
            return False
        data = eir.parse(adv)
        if active and scan_rsp:  # a passive monitor never sends SCAN_REQ, so no scan response
            eir.parse(scan_rsp, into=data)
        duplicate = active and self._duplicate_data(a)
        path = f"{a.path}/dev_{address.upper().replace(':', '_')}"
        dev = a.devices.get(path)
        if dev is None:
            dev = Device(path, adapter, self._new_props(a, address, address_type, rssi, data))
            a.devices[path] = dev
            self._signal("/", OBJMGR, "InterfacesAdded", "oa{sa{sv}}", [path, {DEVICE: dev.props}])
            self.reports += 1
        else:
            changed = self._update(dev, rssi, data, duplicate)
            if changed:
                self._signal(path, PROPS, "PropertiesChanged", "sa{sv}as", [DEVICE, changed, []])
                self.reports += 1
        for m in matching:
            if path not in m.found:
                m.found.add(path)
                self._call_client(m.sender, m.path or m.root, MONITOR, "DeviceFound", "o", [path])
        return True

    def backlogged(self) -> bool:
        """True while our bus connection still has unsent messages.

        dbus-fast treats EAGAIN on a direct send as a fatal error, so a fast producer must wait
        for the socket to drain (the real bluetoothd is paced by the radio instead).
        """
        writer = getattr(self.bus, "_writer", None)
        if writer is None:
            return False
        if writer.buf is not None or writer.messages:
            return True
        # Linux reports a unix socket writable while at most a quarter of its buffer is used.
        _, writable, _ = select.select([], [writer.fd], [], 0)
        return not writable

    def set_powered(self, powered: bool, adapter: str = "hci0") -> None:
        a = self.adapters[adapter]
        if a.powered != powered:
            a.powered = powered
            self._signal(
                a.path,
                PROPS,
                "PropertiesChanged",
                "sa{sv}as",
                [ADAPTER, {"Powered": Variant("b", powered)}, []],
            )

    def state(self) -> dict[str, Any]:
        return {
            name: {
                "powered": a.powered,
                "discovering": a.discovering,
                "sessions": sorted(a.sessions),
                "filters": {k: dict(v) for k, v in a.filters.items()},
                "monitors": [
                    {
                        "path": m.path,
                        "patterns": [[s, t, c.hex()] for s, t, c in m.patterns],
                        "active": m.active,
                        "found": len(m.found),
                    }
                    for m in a.monitors.values()
                ],
                "devices": len(a.devices),
            }
            for name, a in self.adapters.items()
        } | {"reports": self.reports, "dropped": self.dropped}

    def calls_named(self, member: str) -> list[Any]:
        return [body for m, _s, body in self.calls if m == member]

    # ---- BlueZ semantics -------------------------------------------------------------------

    def _filter_passes(self, a: Adapter, rssi: int, adv: bytes, scan_rsp: bytes) -> bool:
        data = eir.parse(adv)
        eir.parse(scan_rsp, into=data)
        for sender in a.sessions:
            f = a.filters.get(sender, {})
            if f.get("Transport", "auto") == "bredr":
                continue
            if "RSSI" in f and rssi < f["RSSI"]:
                continue
            uuids = [u.lower() for u in f.get("UUIDs", [])]
            if uuids and not set(uuids) & (set(data.uuids) | set(data.service_data)):
                continue
            return True
        return False

    def _duplicate_data(self, a: Adapter) -> bool:
        # BlueZ's default for a session without a filter is DuplicateData=true; merged with "any".
        return any(a.filters.get(s, {}).get("DuplicateData", True) for s in a.sessions)

    def _new_props(
        self, a: Adapter, address: str, address_type: str, rssi: int, data: eir.EirData
    ) -> dict[str, Variant]:
        props: dict[str, Variant] = {
            "Address": Variant("s", address.upper()),
            "AddressType": Variant("s", address_type),
            "Alias": Variant("s", data.name or address.upper().replace(":", "-")),
            "Paired": Variant("b", False),
            "Bonded": Variant("b", False),
            "Trusted": Variant("b", False),
            "Blocked": Variant("b", False),
            "LegacyPairing": Variant("b", False),
            "Connected": Variant("b", False),
            "ServicesResolved": Variant("b", False),
            "Adapter": Variant("o", a.path),
            "UUIDs": Variant("as", list(data.uuids)),
            "RSSI": Variant("n", rssi),
        }
        if data.name is not None:
            props["Name"] = Variant("s", data.name)
        if data.tx_power is not None:
            props["TxPower"] = Variant("n", data.tx_power)
        if data.flags is not None:
            props["AdvertisingFlags"] = Variant("ay", data.flags)
        if data.appearance is not None:
            props["Appearance"] = Variant("q", data.appearance)
        if data.manufacturer_data:
            props["ManufacturerData"] = _mfr_variant(data.manufacturer_data)
        if data.service_data:
            props["ServiceData"] = _svc_variant(data.service_data)
        return props

    def _update(
        self, dev: Device, rssi: int, data: eir.EirData, duplicate: bool
    ) -> dict[str, Variant]:
        p = dev.props
        changed: dict[str, Variant] = {}

        def put(name: str, value: Variant) -> None:
            old = p.get(name)
            if old is None or old.signature != value.signature or old.value != value.value:
                p[name] = value
                changed[name] = value

        put("RSSI", Variant("n", rssi))
        if data.tx_power is not None:
            put("TxPower", Variant("n", data.tx_power))
        if data.name is not None:
            put("Name", Variant("s", data.name))
            put("Alias", Variant("s", data.name))
        if data.flags is not None:
            put("AdvertisingFlags", Variant("ay", data.flags))
        if data.uuids:
            old_uuids = list(p["UUIDs"].value)
            merged = old_uuids + [u for u in data.uuids if u not in old_uuids]
            put("UUIDs", Variant("as", merged))
        for key, new, make in (
            ("ManufacturerData", data.manufacturer_data, _mfr_variant),
            ("ServiceData", data.service_data, _svc_variant),
        ):
            if not new:
                continue
            if duplicate:
                # DuplicateData=true: bluetoothd clears and re-sends the data on every report.
                value = make(new)
                p[key] = value
                changed[key] = value
            else:
                old = {k: bytes(v.value) for k, v in p[key].value.items()} if key in p else {}
                put(key, make({**old, **new}))  # type: ignore[arg-type]
        return changed

    def _stop_session(self, a: Adapter, sender: str) -> None:
        a.sessions.discard(sender)
        a.filters.pop(sender, None)
        if not a.sessions and a.discovering:
            a.discovering = False
            self._signal(
                a.path,
                PROPS,
                "PropertiesChanged",
                "sa{sv}as",
                [ADAPTER, {"Discovering": Variant("b", False)}, []],
            )
            for dev in a.devices.values():
                dev.props.pop("RSSI", None)
                dev.props.pop("TxPower", None)
                self._signal(
                    dev.path,
                    PROPS,
                    "PropertiesChanged",
                    "sa{sv}as",
                    [DEVICE, {}, ["RSSI", "TxPower"]],
                )

    def _remove_device(self, a: Adapter, path: str) -> None:
        dev = a.devices.pop(path, None)
        if dev is None:
            raise _Err("org.bluez.Error.DoesNotExist", "Does Not Exist")
        for m in a.monitors.values():
            m.found.discard(path)
        self._signal("/", OBJMGR, "InterfacesRemoved", "oas", [path, [*_STD_IFACES, DEVICE]])

    # ---- D-Bus plumbing --------------------------------------------------------------------

    def _signal(self, path: str, iface: str, member: str, sig: str, body: list[Any]) -> None:
        assert self.bus is not None
        self.bus.send(Message.new_signal(path, iface, member, sig, body))

    def _call_client(
        self,
        dest: str,
        path: str,
        iface: str,
        member: str,
        sig: str = "",
        body: list[Any] | None = None,
    ) -> None:
        async def go() -> None:
            assert self.bus is not None
            await self.bus.call(
                Message(
                    destination=dest,
                    path=path,
                    interface=iface,
                    member=member,
                    signature=sig,
                    body=body or [],
                )
            )

        task = asyncio.get_running_loop().create_task(go())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _adapter_objects(self, a: Adapter) -> dict[str, dict[str, Variant]]:
        ifaces: dict[str, dict[str, Variant]] = {i: {} for i in _STD_IFACES}
        ifaces[ADAPTER] = self._adapter_props(a)
        if self.monitor_api:
            ifaces[MONITOR_MANAGER] = {
                "SupportedMonitorTypes": Variant("as", ["or_patterns"]),
                "SupportedFeatures": Variant("as", []),
            }
        return ifaces

    def _adapter_props(self, a: Adapter) -> dict[str, Variant]:
        return {
            "Address": Variant("s", a.address),
            "AddressType": Variant("s", "public"),
            "Name": Variant("s", "fake"),
            "Alias": Variant("s", "fake"),
            "Class": Variant("u", 0),
            "Powered": Variant("b", a.powered),
            "PowerState": Variant("s", "on" if a.powered else "off"),
            "Discoverable": Variant("b", False),
            "DiscoverableTimeout": Variant("u", 180),
            "Pairable": Variant("b", False),
            "PairableTimeout": Variant("u", 0),
            "Discovering": Variant("b", a.discovering),
            "UUIDs": Variant("as", []),
            "Modalias": Variant("s", "usb:v1D6Bp0246d0542"),
            "Roles": Variant("as", self.roles),
            "ExperimentalFeatures": Variant("as", []),
        }

    def _managed_objects(self) -> dict[str, dict[str, dict[str, Variant]]]:
        objs: dict[str, dict[str, dict[str, Variant]]] = {
            "/org/bluez": {"org.bluez.AgentManager1": {}, "org.bluez.ProfileManager1": {}}
        }
        for a in self.adapters.values():
            objs[a.path] = self._adapter_objects(a)
            for dev in a.devices.values():
                objs[dev.path] = {i: {} for i in _STD_IFACES} | {DEVICE: dict(dev.props)}
        return objs

    def _handle(self, msg: Message) -> Message | bool | None:
        if msg.message_type == MessageType.SIGNAL:
            self._on_signal(msg)
            return None
        if msg.message_type != MessageType.METHOD_CALL:
            return None
        if msg.path != CONTROL_PATH:
            self.calls.append((msg.member or "", msg.sender or "", _plain(msg.body)))
        try:
            return self._dispatch(msg)
        except _Err as err:
            return Message.new_error(msg, err.name, err.text)

    def _dispatch(self, msg: Message) -> Message | None:
        path, iface, member, sender = msg.path, msg.interface, msg.member, msg.sender or ""
        if iface == OBJMGR and member == "GetManagedObjects" and path == "/":
            return Message.new_method_return(msg, "a{oa{sa{sv}}}", [self._managed_objects()])
        if path == CONTROL_PATH and iface == CONTROL:
            return self._control(msg)
        a = next((x for x in self.adapters.values() if x.path == path), None)
        if a is not None:
            return self._adapter_call(a, msg, iface or "", member or "", sender)
        for a in self.adapters.values():
            if path in a.devices and iface == PROPS and member == "GetAll":
                return Message.new_method_return(msg, "a{sv}", [a.devices[path].props])
        if path and path.startswith("/org/bluez"):
            raise _Err("org.freedesktop.DBus.Error.UnknownObject", f"no object {path}")
        return None

    def _adapter_call(
        self, a: Adapter, msg: Message, iface: str, member: str, sender: str
    ) -> Message:
        if iface == ADAPTER:
            if member == "SetDiscoveryFilter":
                f = {k: v.value for k, v in msg.body[0].items()}
                if set(f) - _FILTER_KEYS:
                    raise _Err(
                        "org.bluez.Error.InvalidArguments", "Invalid arguments in method call"
                    )
                if f:
                    a.filters[sender] = f
                else:
                    a.filters.pop(sender, None)
            elif member == "StartDiscovery":
                if not a.powered:
                    raise _Err("org.bluez.Error.NotReady", "Resource Not Ready")
                a.sessions.add(sender)
                if not a.discovering:
                    a.discovering = True
                    self._signal(
                        a.path,
                        PROPS,
                        "PropertiesChanged",
                        "sa{sv}as",
                        [ADAPTER, {"Discovering": Variant("b", True)}, []],
                    )
            elif member == "StopDiscovery":
                if not a.powered:
                    raise _Err("org.bluez.Error.NotReady", "Resource Not Ready")
                if sender not in a.sessions:
                    raise _Err("org.bluez.Error.Failed", "No discovery started")
                self._stop_session(a, sender)
            elif member == "RemoveDevice":
                self._remove_device(a, msg.body[0])
            elif member == "GetDiscoveryFilters":
                return Message.new_method_return(msg, "as", [sorted(_FILTER_KEYS)])
            else:
                raise _Err("org.freedesktop.DBus.Error.UnknownMethod", f"no method {member}")
            return Message.new_method_return(msg)
        if iface == MONITOR_MANAGER and self.monitor_api:
            root = msg.body[0] if msg.body else ""
            if member == "RegisterMonitor":
                if (sender, root) in a.monitors:
                    raise _Err("org.bluez.Error.AlreadyExists", "Already Exists")
                a.monitors[(sender, root)] = Monitor(sender, root)
            elif member == "UnregisterMonitor":
                if a.monitors.pop((sender, root), None) is None:
                    raise _Err("org.bluez.Error.DoesNotExist", "Does Not Exist")
            else:
                raise _Err("org.freedesktop.DBus.Error.UnknownMethod", f"no method {member}")
            return Message.new_method_return(msg)
        if iface == PROPS:
            objs = self._adapter_objects(a)
            if member == "GetAll":
                if msg.body[0] not in objs:
                    raise _Err("org.freedesktop.DBus.Error.InvalidArgs", "No such interface")
                return Message.new_method_return(msg, "a{sv}", [objs[msg.body[0]]])
            if member == "Get":
                props = objs.get(msg.body[0], {})
                if msg.body[1] not in props:
                    raise _Err("org.freedesktop.DBus.Error.InvalidArgs", "No such property")
                return Message.new_method_return(msg, "v", [props[msg.body[1]]])
            if member == "Set" and msg.body[1] == "Powered":
                self.set_powered(bool(msg.body[2].value), a.name)
                return Message.new_method_return(msg)
        raise _Err("org.freedesktop.DBus.Error.UnknownMethod", f"no method {iface}.{member}")

    def _control(self, msg: Message) -> Message:
        m = msg.member
        if m == "Advertise":
            address, address_type, rssi, adv, scan_rsp = msg.body
            ok = self.advertise(
                address, rssi, bytes(adv), bytes(scan_rsp), address_type=address_type
            )
            return Message.new_method_return(msg, "b", [ok])
        if m == "AdvertiseBatch":
            n = 0
            for address, address_type, rssi, adv, scan_rsp in msg.body[0]:
                n += self.advertise(
                    address, rssi, bytes(adv), bytes(scan_rsp), address_type=address_type
                )
            return Message.new_method_return(msg, "u", [n])
        if m == "SetPowered":
            self.set_powered(bool(msg.body[0]))
            return Message.new_method_return(msg)
        if m == "State":
            return Message.new_method_return(msg, "s", [json.dumps(self.state())])
        raise _Err("org.freedesktop.DBus.Error.UnknownMethod", f"no control method {m}")

    def _on_signal(self, msg: Message) -> None:
        if msg.member == "NameOwnerChanged" and msg.body and msg.body[2] == "":
            gone = msg.body[0]
            for a in self.adapters.values():
                if gone in a.sessions:
                    self._stop_session(a, gone)
                for key in [k for k in a.monitors if k[0] == gone]:
                    del a.monitors[key]
        elif msg.member == "InterfacesAdded" and msg.body:
            obj_path, ifaces = msg.body
            if MONITOR not in ifaces:
                return
            for a in self.adapters.values():
                for m in a.monitors.values():
                    if m.sender == msg.sender and (
                        obj_path == m.root or obj_path.startswith(m.root.rstrip("/") + "/")
                    ):
                        self._activate(m, obj_path)

    def _activate(self, m: Monitor, path: str) -> None:
        async def go() -> None:
            assert self.bus is not None
            reply = await self.bus.call(
                Message(
                    destination=m.sender,
                    path=path,
                    interface=PROPS,
                    member="GetAll",
                    signature="s",
                    body=[MONITOR],
                )
            )
            if reply.message_type != MessageType.METHOD_RETURN:
                return
            props = reply.body[0]
            patterns = props.get("Patterns")
            m.path = path
            if (
                props.get("Type", Variant("s", "")).value != "or_patterns"
                or not patterns
                or not patterns.value
            ):
                await self.bus.call(
                    Message(destination=m.sender, path=path, interface=MONITOR, member="Release")
                )
                return
            m.patterns = [(int(s), int(t), bytes(c)) for s, t, c in patterns.value]
            await self.bus.call(
                Message(destination=m.sender, path=path, interface=MONITOR, member="Activate")
            )
            m.active = True

        task = asyncio.get_running_loop().create_task(go())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _tolerate_eagain(bus: MessageBus) -> None:
    """Make this connection's writer wait on EAGAIN instead of dropping the connection.

    dbus-fast's aio writer treats a full socket as fatal (python-dbus-next issue #153, inherited).
    The fake can emit thousands of signals in one burst (a scene, a window's RemoveDevice calls),
    so its own writer must wait for the socket to drain like a C client would.
    """
    w = bus._writer  # type: ignore[attr-defined]

    def write_callback(remove_writer: bool = True) -> None:
        try:
            while True:
                if w.buf is None:
                    if not w.messages:
                        if remove_writer:
                            w.loop.remove_writer(w.fd)
                        return
                    data, _fds, fut = w.messages.popleft()
                    w.buf, w.offset, w.fut = memoryview(data), 0, fut
                try:
                    w.offset += w.sock.send(w.buf[w.offset :])
                except BlockingIOError:
                    w.loop.add_writer(w.fd, w.write_callback)
                    return
                if w.offset < len(w.buf):
                    w.loop.add_writer(w.fd, w.write_callback)
                    return
                w.buf = None
                if w.fut is not None and not w.fut.done():
                    w.fut.set_result(None)
        except Exception as exc:
            if w.fut is not None and not w.fut.done():
                w.fut.set_exception(exc)
            bus._finalize(exc)  # type: ignore[attr-defined]

    w.write_callback = write_callback
    w._write_without_remove_writer = lambda: write_callback(False)


def _mfr_variant(data: dict[int, bytes]) -> Variant:
    return Variant("a{qv}", {k: Variant("ay", bytes(v)) for k, v in data.items()})


def _svc_variant(data: dict[str, bytes]) -> Variant:
    return Variant("a{sv}", {k: Variant("ay", bytes(v)) for k, v in data.items()})


def _plain(body: Any) -> Any:
    if isinstance(body, Variant):
        return _plain(body.value)
    if isinstance(body, dict):
        return {k: _plain(v) for k, v in body.items()}
    if isinstance(body, list | tuple):
        return [_plain(v) for v in body]
    if isinstance(body, bytes):
        return body.hex()
    return body
