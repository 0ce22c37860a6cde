"""The interface registry's starter set: common power, data, mechanical and software interfaces at 1.0.0.

`seed_registry` is run by a data migration through the historical models (`apps.get_model`), so it must use
nothing but plain ORM calls; it is idempotent: an interface or version already present is left as it is.
"""

from __future__ import annotations

from typing import Any

SEED_VERSION = "1.0.0"
SEED_CHANGELOG = "Starter set of the registry."


def _dim(unit: str, description: str) -> dict[str, str]:
    return {"unit": unit, "description": description}


WATTS = _dim("W", "Electrical power drawn by a consumer or offered by a supply.")

# name -> (description, dimensions of its 1.0.0 version); the kind is the name's first segment.
STARTER_SET: dict[str, tuple[str, dict[str, dict[str, str]]]] = {
    "power.usb-c": (
        "USB Type-C power (USB PD up to 100 W per port at 1.0.0). A charger provides watts and ports; "
        "a device requires the watts it draws and one port.",
        {"watts": WATTS, "ports": _dim("ports", "USB-C receptacles; each consumer takes one.")},
    ),
    "power.dc-barrel-12v": (
        "12 V DC on a 5.5 x 2.1 mm barrel plug, centre positive.",
        {"watts": WATTS, "ports": _dim("ports", "Barrel jacks or outputs; each consumer takes one.")},
    ),
    "power.mains-230v": (
        "230 V AC 50 Hz mains through CEE 7 sockets (Europe).",
        {"watts": WATTS, "sockets": _dim("sockets", "Mains sockets; each plugged-in device takes one.")},
    ),
    "data.mqtt.sensor.temperature": (
        'Publishes temperature readings in degrees Celsius as JSON {"value": 21.5} to an MQTT topic.',
        {"subscribers": _dim("subscribers", "Consumers that may subscribe to the readings.")},
    ),
    "data.mqtt.sensor.humidity": (
        'Publishes relative humidity in percent as JSON {"value": 48} to an MQTT topic.',
        {"subscribers": _dim("subscribers", "Consumers that may subscribe to the readings.")},
    ),
    "data.mqtt.sensor.motion": (
        'Publishes motion events as JSON {"motion": true} to an MQTT topic.',
        {"subscribers": _dim("subscribers", "Consumers that may subscribe to the events.")},
    ),
    "data.mqtt.actuator.switch": (
        'A relay or switch commanded over MQTT: "ON"/"OFF" on its command topic, state on its state topic.',
        {"controllers": _dim("controllers", "Controllers that may command the switch.")},
    ),
    "data.mqtt.actuator.light": (
        'A dimmable light commanded over MQTT with JSON {"state": "ON", "brightness": 0-255}.',
        {"controllers": _dim("controllers", "Controllers that may command the light.")},
    ),
    "data.mqtt.broker": (
        "An MQTT 3.1.1/5 broker on the local network; every MQTT device requires one connection.",
        {"connections": _dim("connections", "Concurrent client connections the broker accepts.")},
    ),
    "data.http": (
        "An HTTP/1.1 JSON API on the local network (the WoT Thing Description says where).",
        {"connections": _dim("connections", "Concurrent clients the server serves.")},
    ),
    "data.wifi-ap": (
        "A 2.4 GHz Wi-Fi (802.11 b/g/n) access point with WPA2.",
        {"clients": _dim("clients", "Stations that may associate at the same time.")},
    ),
    "mechanical.din-rail-35": (
        "35 mm top-hat DIN rail (EN 60715). Modules require their width; a rail or enclosure provides its length.",
        {"width_mm": _dim("mm", "Rail length taken or offered, in millimetres (one module is 17.5 mm).")},
    ),
    "mechanical.profile-2020": (
        "20 x 20 mm aluminium extrusion with 6 mm slots (B-type); parts mount with M5 T-nuts.",
        {"length_mm": _dim("mm", "Profile length taken or offered, in millimetres.")},
    ),
    "mechanical.m3-mount": (
        "M3 mounting holes or standoffs (3.2 mm clearance holes).",
        {"holes": _dim("holes", "M3 holes taken or offered.")},
    ),
    "software.home-assistant": (
        "Integration with Home Assistant (MQTT discovery or a native integration).",
        {"devices": _dim("devices", "Devices the installation manages.")},
    ),
}


def seed_registry(apps: Any, schema_editor: Any = None) -> None:
    """Create each starter interface and its accepted 1.0.0 unless already there (RunPython forward)."""
    from django.utils import timezone

    interface_type = apps.get_model("protocol", "InterfaceType")
    interface_version = apps.get_model("protocol", "InterfaceVersion")
    now = timezone.now()
    for name, (description, dimensions) in STARTER_SET.items():
        kind = name.split(".", 1)[0]
        interface, _ = interface_type.objects.get_or_create(
            name=name, defaults={"kind": kind, "description": description}
        )
        interface_version.objects.get_or_create(
            interface=interface,
            version=SEED_VERSION,
            defaults={
                "dimensions": dimensions,
                "status": "accepted",
                "changelog": SEED_CHANGELOG,
                "decided_at": now,
            },
        )
