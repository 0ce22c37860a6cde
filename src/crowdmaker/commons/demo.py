"""Demo designs for the commons: 39 designs in the smart-home, lighting and workshop families, by the six demo
makers and three teams, with versions, forks (a fork of a fork too), citations, generated pictures and two systems.

emil's saved system "Smart home starter" is complete with seven products (latest versions): the Hexa USB-C PD
charger (`hexa-charger`), the Hearth Hub Wi-Fi access point and MQTT broker (`hearth-hub`), the Climate Node
temperature and humidity sensor (`climate-node`), the Motion Eye PIR sensor (`motion-eye`), the Relay One switch
(`relay-one`), the Lumen dimmable LED panel (`lumen-panel`) and the Home Assistant Box (`ha-box`). His
"Half-built living room" lacks a USB-C charger and a motion sensor; "complete my system" suggests both.

Writes go only through `commons.services` and `commons.systems`; never touch rows directly. Idempotent by natural
key: design slug, version count, (design, cited) pair, image presence, (owner, system name).
"""

from __future__ import annotations

import colorsys
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from crowdmaker.commons import services, systems
from crowdmaker.commons.models import Citation, Design, DesignVersion, System
from crowdmaker.core.demo import Report, register_demo
from crowdmaker.people.models import Team, User
from crowdmaker.protocol.registry_seed import SEED_VERSION, STARTER_SET
from crowdmaker.protocol.services import CM_NAMESPACE

TD_CONTEXT = "https://www.w3.org/2022/wot/td/v1.1"
MQTT_VOCABULARY = "https://www.w3.org/2019/wot/mqtt#"  # the WoT MQTT binding's `mqv:` terms
MQTT_BROKER = "mqtt://broker.local"
REQUIRED_RANGE = "^1.0"  # what every demo requirement accepts: any 1.x of the registry's interface

SMART_HOME, LIGHTING, WORKSHOP = "smart-home", "lighting", "workshop"


# --- manifests ----------------------------------------------------------------------------------------------------


def _amounts(interface: str, amounts: dict[str, float]) -> dict[str, float]:
    """Capacity or load with exactly the registry's dimensions for `interface` (a typo fails at import)."""
    registered = STARTER_SET[interface][1]
    if set(amounts) != set(registered):
        raise ValueError(f"{interface} has the dimensions {sorted(registered)}, not {sorted(amounts)}")
    return amounts


def provide(interface: str, **capacity: float) -> dict[str, Any]:
    return {"interface": interface, "version": SEED_VERSION, "capacity": _amounts(interface, capacity)}


def require(interface: str, **load: float) -> dict[str, Any]:
    return {"interface": interface, "version": REQUIRED_RANGE, "load": _amounts(interface, load)}


def usb_c(watts: float) -> dict[str, Any]:
    return require("power.usb-c", watts=watts, ports=1)


BROKER = require("data.mqtt.broker", connections=1)
WIFI = require("data.wifi-ap", clients=1)


def _topic(slug: str, name: str) -> str:
    return f"{MQTT_BROKER}/crowdmaker/{slug}/{name}"


def _observe(slug: str, name: str, content_type: str = "application/json") -> list[dict[str, Any]]:
    return [
        {
            "href": _topic(slug, name),
            "op": ["observeproperty", "unobserveproperty"],
            "contentType": content_type,
            "mqv:qos": "1",
            "mqv:retain": True,
        }
    ]


def reading(slug: str, name: str, title: str, unit: str, minimum: float, maximum: float) -> dict[str, Any]:
    """A sensor reading published as JSON {"value": ...} on a retained topic."""
    return {
        "title": title,
        "type": "object",
        "properties": {"value": {"type": "number", "unit": unit, "minimum": minimum, "maximum": maximum}},
        "required": ["value"],
        "readOnly": True,
        "observable": True,
        "forms": _observe(slug, name),
    }


def setting(slug: str, name: str, title: str, minimum: int, maximum: int, unit: str | None = None) -> dict[str, Any]:
    """A writable integer setting: read and observed on `config/<name>`, written on `config/<name>/set`."""
    schema: dict[str, Any] = {"title": title, "type": "integer", "minimum": minimum, "maximum": maximum}
    if unit is not None:
        schema["unit"] = unit
    return {
        **schema,
        "observable": True,
        "forms": [
            *_observe(slug, f"config/{name}", "text/plain"),
            {"href": _topic(slug, f"config/{name}/set"), "op": "writeproperty", "contentType": "text/plain"},
        ],
    }


def motion_event(slug: str) -> dict[str, Any]:
    return {
        "title": "Motion",
        "description": 'Sent when motion starts ({"motion": true}) and when it has stopped for the hold time.',
        "data": {"type": "object", "properties": {"motion": {"type": "boolean"}}, "required": ["motion"]},
        "forms": [{"href": _topic(slug, "motion"), "op": "subscribeevent", "contentType": "application/json"}],
    }


def switch_affordances(slug: str, channels: int = 1) -> tuple[dict[str, Any], dict[str, Any]]:
    """Properties and actions of a relay with `channels` channels: state on `<ch>/state`, "ON"/"OFF" to `<ch>/set`."""
    properties: dict[str, Any] = {}
    actions: dict[str, Any] = {}
    for channel in range(1, channels + 1):
        name = "relay" if channels == 1 else f"relay{channel}"
        properties[name] = {
            "title": "Relay state" if channels == 1 else f"Relay {channel} state",
            "type": "string",
            "enum": ["ON", "OFF"],
            "readOnly": True,
            "observable": True,
            "forms": _observe(slug, f"{name}/state", "text/plain"),
        }
        actions[f"switch{'' if channels == 1 else channel}"] = {
            "title": "Switch" if channels == 1 else f"Switch relay {channel}",
            "input": {"type": "string", "enum": ["ON", "OFF"]},
            "idempotent": True,
            "forms": [{"href": _topic(slug, f"{name}/set"), "op": "invokeaction", "contentType": "text/plain"}],
        }
    return properties, actions


def light_state(*, colour: bool = False) -> dict[str, Any]:
    """The JSON a light reports and accepts (the registry's data.mqtt.actuator.light), with RGB when `colour`."""
    members: dict[str, Any] = {
        "state": {"type": "string", "enum": ["ON", "OFF"]},
        "brightness": {"type": "integer", "minimum": 0, "maximum": 255},
    }
    if colour:
        members["rgb"] = {
            "type": "array",
            "items": {"type": "integer", "minimum": 0, "maximum": 255},
            "minItems": 3,
            "maxItems": 3,
        }
    return {"type": "object", "properties": members}


def light_affordances(slug: str, *, colour: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    properties = {
        "light": {
            "title": "Light",
            **light_state(colour=colour),
            "readOnly": True,
            "observable": True,
            "forms": _observe(slug, "light/state"),
        }
    }
    actions = {
        "setLight": {
            "title": "Set the light",
            "description": 'JSON such as {"state": "ON", "brightness": 128}; omitted members keep their value.',
            "input": light_state(colour=colour),
            "forms": [{"href": _topic(slug, "light/set"), "op": "invokeaction", "contentType": "application/json"}],
        }
    }
    return properties, actions


def http_property(href: str, title: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": title,
        **schema,
        "readOnly": True,
        "forms": [{"href": href, "op": "readproperty", "contentType": "application/json"}],
    }


def td(
    slug: str,
    title: str,
    description: str,
    *,
    instance: str,
    families: tuple[str, ...],
    provides: tuple[dict[str, Any], ...] = (),
    requires: tuple[dict[str, Any], ...] = (),
    properties: dict[str, Any] | None = None,
    actions: dict[str, Any] | None = None,
    events: dict[str, Any] | None = None,
    base: str | None = None,
) -> dict[str, Any]:
    """A Thing Description 1.1 with our extension. An HTTP thing (with `base`) asks for basic auth; MQTT things
    rely on the broker's own access control (nosec on the TD, as the WoT MQTT binding examples do)."""
    document: dict[str, Any] = {
        "@context": [TD_CONTEXT, {"cm": CM_NAMESPACE, "mqv": MQTT_VOCABULARY}],
        "id": f"urn:dev:crowdmaker:{slug}",
        "title": title,
        "description": description,
        "version": {"instance": instance},
    }
    if base is not None:
        document["base"] = base
        document["securityDefinitions"] = {"basic_sc": {"scheme": "basic", "in": "header"}}
        document["security"] = ["basic_sc"]
    else:
        document["securityDefinitions"] = {"nosec_sc": {"scheme": "nosec"}}
        document["security"] = ["nosec_sc"]
    for key, value in (("properties", properties), ("actions", actions), ("events", events)):
        if value:
            document[key] = value
    if provides:
        document["cm:provides"] = list(provides)
    if requires:
        document["cm:requires"] = list(requires)
    document["cm:family"] = list(families)
    return document


def line(item: str, quantity: int, unit_cost: int, currency: str = "EUR") -> dict[str, Any]:
    """One bill-of-materials line; `unit_cost` in minor units (cents, öre)."""
    return {"item": item, "quantity": quantity, "unit_cost": unit_cost, "currency": currency}


# --- the catalog --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Release:
    manifest: dict[str, Any]
    bom: list[dict[str, Any]]
    notes: str = ""


@dataclass(frozen=True)
class DemoDesign:
    slug: str
    title: str
    summary: str
    description: str
    licence: str
    tags: tuple[str, ...]
    actor: str  # the maker who publishes: the owner, or an owner/maintainer of `team`
    releases: tuple[Release, ...]
    team: str | None = None
    fork_of: tuple[str, int] | None = None  # (upstream slug, version number)
    cites: tuple[tuple[str, str], ...] = ()  # (cited slug, note)

    @property
    def families(self) -> list[str]:
        return list(self.releases[-1].manifest["cm:family"])


def _hexa(instance: str, watts: int, ports: int) -> dict[str, Any]:
    return td(
        "hexa-charger",
        "Hexa USB-C PD charger",
        f"USB Power Delivery charger, {ports} ports, {watts} W shared.",
        instance=instance,
        families=(SMART_HOME,),
        provides=(provide("power.usb-c", watts=watts, ports=ports),),
    )


def _hearth(instance: str, clients: int, connections: int, watts: float) -> dict[str, Any]:
    return td(
        "hearth-hub",
        "Hearth Hub",
        "Wi-Fi access point with a built-in MQTT broker and a small admin API.",
        instance=instance,
        families=(SMART_HOME,),
        base="http://hearth-hub.local/api/",
        provides=(
            provide("data.wifi-ap", clients=clients),
            provide("data.mqtt.broker", connections=connections),
            provide("data.http", connections=4),
        ),
        requires=(usb_c(watts),),
        properties={
            "clients": http_property("clients", "Associated stations", {"type": "integer", "minimum": 0}),
            "brokerConnections": http_property("broker/connections", "Open MQTT connections", {"type": "integer"}),
            "uptime": http_property("uptime", "Uptime", {"type": "integer", "unit": "s"}),
        },
        actions={
            "restartBroker": {
                "title": "Restart the MQTT broker",
                "safe": False,
                "idempotent": False,
                "forms": [{"href": "broker/restart", "op": "invokeaction", "htv:methodName": "POST"}],
            }
        },
    )


def _climate(
    slug: str,
    title: str,
    instance: str,
    watts: float,
    *,
    families: tuple[str, ...] = (SMART_HOME,),
    extra_requires: tuple[dict[str, Any], ...] = (),
    interval: bool = True,
) -> dict[str, Any]:
    properties = {
        "temperature": reading(slug, "temperature", "Temperature", "degree Celsius", -40, 85),
        "humidity": reading(slug, "humidity", "Relative humidity", "percent", 0, 100),
    }
    if interval:
        properties["interval"] = setting(slug, "interval", "Reporting interval", 10, 3600, "s")
    return td(
        slug,
        title,
        "Publishes temperature and relative humidity over MQTT.",
        instance=instance,
        families=families,
        provides=(
            provide("data.mqtt.sensor.temperature", subscribers=4),
            provide("data.mqtt.sensor.humidity", subscribers=4),
        ),
        requires=(usb_c(watts), BROKER, WIFI, *extra_requires),
        properties=properties,
    )


def _motion(slug: str, title: str, instance: str, watts: float, *, sensitivity: bool) -> dict[str, Any]:
    properties = {"holdTime": setting(slug, "hold", "Hold time", 5, 600, "s")}
    if sensitivity:
        properties["sensitivity"] = setting(slug, "sensitivity", "Sensitivity", 0, 100, "percent")
    return td(
        slug,
        title,
        "Reports motion over MQTT.",
        instance=instance,
        families=(SMART_HOME,),
        provides=(provide("data.mqtt.sensor.motion", subscribers=4),),
        requires=(usb_c(watts), BROKER, WIFI),
        properties=properties,
        events={"motion": motion_event(slug)},
    )


def _lumen(
    slug: str,
    title: str,
    instance: str,
    watts: float,
    *,
    families: tuple[str, ...],
    extra_requires: tuple[dict[str, Any], ...] = (),
) -> dict[str, Any]:
    properties, actions = light_affordances(slug)
    return td(
        slug,
        title,
        "A dimmable warm-white LED light commanded over MQTT.",
        instance=instance,
        families=families,
        provides=(provide("data.mqtt.actuator.light", controllers=2),),
        requires=(usb_c(watts), BROKER, WIFI, *extra_requires),
        properties=properties,
        actions=actions,
    )


def _ha_box(instance: str, *, lights: bool) -> dict[str, Any]:
    managed = [
        require("data.mqtt.sensor.temperature", subscribers=1),
        require("data.mqtt.sensor.humidity", subscribers=1),
        require("data.mqtt.sensor.motion", subscribers=1),
        require("data.mqtt.actuator.switch", controllers=1),
    ]
    if lights:
        managed.append(require("data.mqtt.actuator.light", controllers=1))
    return td(
        "ha-box",
        "Home Assistant Box",
        "Home Assistant on a small board, set up for the starter kit's devices.",
        instance=instance,
        families=(SMART_HOME,),
        base="http://homeassistant.local:8123/api/",
        provides=(provide("software.home-assistant", devices=50), provide("data.http", connections=10)),
        requires=(usb_c(7.5), BROKER, *managed),
        properties={
            "config": http_property("config", "Configuration", {"type": "object"}),
            "states": http_property("states", "Entity states", {"type": "array", "items": {"type": "object"}}),
        },
        actions={"backup": {"title": "Make a backup", "forms": [{"href": "backup", "op": "invokeaction"}]}},
    )


def _workbench(instance: str, length_mm: int, *, holes: int = 0, din_mm: int = 0) -> dict[str, Any]:
    provides = [provide("mechanical.profile-2020", length_mm=length_mm)]
    if holes:
        provides.append(provide("mechanical.m3-mount", holes=holes))
    if din_mm:
        provides.append(provide("mechanical.din-rail-35", width_mm=din_mm))
    return td(
        "workbench-2020",
        "Commons workbench",
        "A bench frame of 2020 profile; accessories clamp onto it.",
        instance=instance,
        families=(WORKSHOP,),
        provides=tuple(provides),
    )


def _origami(slug: str, title: str, instance: str) -> dict[str, Any]:
    return td(
        slug, title, "A folded paper or polypropylene shade; not connected.", instance=instance, families=(LIGHTING,)
    )


HEXA_BOM = [
    line("USB PD controller, 3 ports (IP2736)", 2, 310),
    line("GaN half-bridge, 650 V", 2, 420),
    line("Planar transformer", 1, 380),
    line("USB-C receptacle, 24 pin", 6, 45),
    line("PCB, 4 layers, 80 x 60 mm", 1, 290),
    line("Enclosure, PC/ABS, V-0", 1, 260),
]
HEARTH_BOM = [
    line("ESP32-S3-WROOM-1 module, 8 MB", 1, 395),
    line("External antenna, 2.4 GHz, 3 dBi", 1, 150),
    line("USB-C receptacle", 1, 45),
    line("PCB, 2 layers, 60 x 40 mm", 1, 120),
    line("Enclosure, 3D printed PETG", 1, 180),
]
CLIMATE_BOM = [
    line("ESP32-C3-MINI-1 module", 1, 245),
    line("SHT40 temperature and humidity sensor", 1, 210),
    line("USB-C receptacle", 1, 45),
    line("PCB, 2 layers, 30 x 30 mm", 1, 60),
    line("Vented enclosure, 3D printed PETG", 1, 90),
]
MOTION_BOM = [
    line("ESP32-C3-MINI-1 module", 1, 245),
    line("PIR sensor AM312 with Fresnel lens", 1, 180),
    line("USB-C receptacle", 1, 45),
    line("PCB, 2 layers, 30 x 30 mm", 1, 60),
]
LUMEN_BOM = [
    line("LED, 2700 K, CRI 95, 0.5 W", 24, 18),
    line("Constant-current driver, PWM dimmable", 1, 140),
    line("ESP32-C3-MINI-1 module", 1, 245),
    line("Aluminium back plate, 150 x 150 mm", 1, 330),
    line("Opal PMMA diffuser", 1, 210),
    line("USB-C PD sink controller", 1, 95),
]
WORKBENCH_BOM = [
    line("Aluminium profile 2020, 1 m", 8, 7900, "SEK"),
    line("Corner bracket 2020 with screws", 16, 1200, "SEK"),
    line("Birch plywood top, 18 mm, 1200 x 600", 1, 89000, "SEK"),
    line("Levelling foot M8", 4, 3500, "SEK"),
]


CATALOG: tuple[DemoDesign, ...] = (
    # --- smart home -----------------------------------------------------------------------------------------------
    DemoDesign(
        slug="hexa-charger",
        title="Hexa USB-C PD charger",
        summary="A six-port USB Power Delivery charger that powers a whole smart home starter from one socket.",
        description="""Hexa is the power hub of the **smart home starter**: every sensor, hub and lamp in the kit
takes its power from one USB-C port.

## Specifications
- 6 USB-C ports, 65 W shared (any single port up to 45 W)
- GaN switching stage, no fan, under 2 W standby-to-full efficiency loss
- Ports negotiate 5 V for small sensors, up to 20 V for the lamps

## Build notes
The PD controllers are dual-port parts; the sixth port sits on a third controller's second channel. Flash the
port limits with `pdtool set --budget 65` before closing the case.""",
        licence="CERN-OHL-W-2.0",
        tags=("usb-c", "power", "charger", "gan"),
        actor="ada",
        releases=(
            Release(
                _hexa("1.0.0", 45, 4),
                [*HEXA_BOM[:3], line("USB-C receptacle, 24 pin", 4, 45), *HEXA_BOM[4:]],
                "First release: four ports, 45 W.",
            ),
            Release(
                _hexa("2.0.0", 65, 6),
                HEXA_BOM,
                "Six ports and 65 W: a third PD controller and a GaN stage. Enough for the whole starter kit.",
            ),
        ),
    ),
    DemoDesign(
        slug="pocket-charger",
        title="Pocket USB-C charger",
        summary="A two-port, 30 W travel charger; enough for a sensor and a lamp.",
        description="""A small charger for one room or a trip.

- 2 USB-C ports, 30 W shared
- Folding EU plug
- Fits in a 50 mm cube

Too small for a whole smart home: use Hexa for that.""",
        licence="CC-BY-4.0",
        tags=("usb-c", "power", "charger", "travel"),
        actor="dara",
        releases=(
            Release(
                td(
                    "pocket-charger",
                    "Pocket USB-C charger",
                    "Two USB-C ports, 30 W shared.",
                    instance="1.0.0",
                    families=(SMART_HOME,),
                    provides=(provide("power.usb-c", watts=30, ports=2),),
                ),
                [
                    line("USB PD controller, 2 ports", 1, 290),
                    line("Flyback transformer", 1, 160),
                    line("Folding EU plug", 1, 85),
                    line("Injection-moulded case, 2 halves", 1, 140),
                ],
                "First release.",
            ),
        ),
    ),
    DemoDesign(
        slug="hexa-charger-100",
        title="Hexa 100: six-port charger with a 100 W budget",
        summary="Hexa with a bigger transformer and active cooling, for homes with several lamps.",
        description="""A remix of **Hexa v2** for heavier loads: same six ports, 100 W shared.

## What changed
- Larger planar transformer and a second GaN stage
- A 40 mm fan that only spins above 70 W
- Moulded aluminium-filled case instead of PC/ABS

Released under CERN-OHL-S-2.0: the weak upstream licence lets a remix move to the strong variant.""",
        licence="CERN-OHL-S-2.0",
        tags=("usb-c", "power", "charger", "remix"),
        actor="dara",
        fork_of=("hexa-charger", 2),
        releases=(
            Release(
                td(
                    "hexa-charger-100",
                    "Hexa 100",
                    "USB Power Delivery charger, 6 ports, 100 W shared.",
                    instance="1.0.0",
                    families=(SMART_HOME,),
                    provides=(provide("power.usb-c", watts=100, ports=6),),
                ),
                [
                    *HEXA_BOM[:2],
                    line("Planar transformer, 100 W", 1, 540),
                    line("GaN half-bridge, 650 V", 2, 420),
                    line("USB-C receptacle, 24 pin", 6, 45),
                    line("Fan, 40 mm, 5 V", 1, 230),
                    line("Case, aluminium-filled PA6", 1, 410),
                ],
                "Forked from Hexa v2 for a 100 W budget.",
            ),
        ),
    ),
    DemoDesign(
        slug="hearth-hub",
        title="Hearth Hub: Wi-Fi access point and MQTT broker",
        summary="The network of the smart home starter: a 2.4 GHz access point with a built-in MQTT broker.",
        description="""Hearth Hub gives your devices their own Wi-Fi and an MQTT broker, so nothing depends on a
cloud or on your router's settings.

## Features
- WPA2 access point on 2.4 GHz (802.11 b/g/n)
- Mosquitto-compatible MQTT 3.1.1/5 broker on port 1883
- Small HTTP admin API at `http://hearth-hub.local/api/`

## Setting up
1. Power it from any USB-C port.
2. Join the `hearth-setup` network and open `http://hearth-hub.local/`.
3. Choose a network name and password; devices in the starter kit find the broker as `broker.local`.""",
        licence="CERN-OHL-S-2.0",
        tags=("wifi", "mqtt", "hub", "esp32"),
        actor="ada",
        team="open-sensors",
        releases=(
            Release(_hearth("1.0.0", 16, 32, 5), HEARTH_BOM[:1] + HEARTH_BOM[2:], "First release."),
            Release(
                _hearth("1.1.0", 24, 64, 5),
                HEARTH_BOM,
                "External antenna: 24 stations instead of 16, and 64 broker connections.",
            ),
        ),
    ),
    DemoDesign(
        slug="hearth-hub-mesh",
        title="Hearth Hub Mesh: two radios for larger homes",
        summary="Hearth Hub with a second radio for the backhaul: 48 stations and 128 broker connections.",
        description="""A remix of **Hearth Hub v2** for houses where one access point does not reach the garden.

- Two ESP32-S3 radios: one serves stations, one links hubs together
- 48 stations, 128 MQTT connections
- Same admin API as Hearth Hub

Stays under CERN-OHL-S-2.0, as the upstream's share-alike terms require.""",
        licence="CERN-OHL-S-2.0",
        tags=("wifi", "mqtt", "hub", "mesh", "remix"),
        actor="chen",
        fork_of=("hearth-hub", 2),
        releases=(
            Release(
                td(
                    "hearth-hub-mesh",
                    "Hearth Hub Mesh",
                    "Two-radio access point with an MQTT broker.",
                    instance="1.0.0",
                    families=(SMART_HOME,),
                    base="http://hearth-hub.local/api/",
                    provides=(
                        provide("data.wifi-ap", clients=48),
                        provide("data.mqtt.broker", connections=128),
                        provide("data.http", connections=8),
                    ),
                    requires=(usb_c(9),),
                    properties={
                        "clients": http_property("clients", "Associated stations", {"type": "integer"}),
                        "peers": http_property(
                            "mesh/peers", "Mesh peers", {"type": "array", "items": {"type": "string"}}
                        ),
                    },
                ),
                [
                    line("ESP32-S3-WROOM-1 module, 8 MB", 2, 395),
                    line("External antenna, 2.4 GHz, 3 dBi", 2, 150),
                    line("USB-C receptacle", 1, 45),
                    line("PCB, 4 layers, 80 x 50 mm", 1, 240),
                ],
                "Forked from Hearth Hub v2: a second radio for the mesh backhaul.",
            ),
        ),
    ),
    DemoDesign(
        slug="climate-node",
        title="Climate Node: temperature and humidity sensor",
        summary="A thumb-sized sensor that publishes temperature and humidity over MQTT every minute.",
        description="""Climate Node measures temperature (±0.2 °C) and relative humidity (±1.8 %) and publishes both
as JSON on retained MQTT topics:

```
crowdmaker/climate-node/temperature  {"value": 21.4}
crowdmaker/climate-node/humidity     {"value": 47}
```

## Placement
Keep it away from radiators and direct sun; the vented case needs free air on two sides.

## Home Assistant
MQTT discovery is on by default: the node appears in Home Assistant as two sensors.""",
        licence="CERN-OHL-W-2.0",
        tags=("sensor", "temperature", "humidity", "mqtt", "esp32"),
        actor="ada",
        releases=(
            Release(
                _climate("climate-node", "Climate Node", "1.0.0", 0.8, interval=False),
                [line("ESP8266 module (ESP-12F)", 1, 190), line("SHT31 sensor breakout", 1, 320), *CLIMATE_BOM[2:]],
                "First release, ESP8266 and SHT31.",
            ),
            Release(
                _climate("climate-node", "Climate Node", "2.0.0", 0.6),
                CLIMATE_BOM,
                "ESP32-C3 and SHT40: a quarter less power. The reporting interval is now a setting.",
            ),
            Release(
                _climate("climate-node", "Climate Node", "2.1.0", 0.5),
                CLIMATE_BOM,
                "Deep sleep between readings: 0.5 W peak.",
            ),
        ),
    ),
    DemoDesign(
        slug="climate-node-eink",
        title="Climate Node E-Ink",
        summary="Climate Node with a 2.9-inch e-paper display that shows the readings at a glance.",
        description="""A remix of **Climate Node v2** with a display, for rooms where you want to see the numbers
without a phone.

- 2.9" e-paper, refreshed once a minute, readable in sunlight
- Same MQTT topics as Climate Node, so dashboards need no change

Moved from CERN-OHL-W-2.0 to the strong variant, which the weak licence allows.""",
        licence="CERN-OHL-S-2.0",
        tags=("sensor", "temperature", "humidity", "e-paper", "remix"),
        actor="chen",
        fork_of=("climate-node", 2),
        releases=(
            Release(
                _climate("climate-node-eink", "Climate Node E-Ink", "1.0.0", 0.8),
                [
                    *CLIMATE_BOM[:4],
                    line("E-paper display, 2.9 inch, SPI", 1, 890),
                    line("Enclosure with window", 1, 150),
                ],
                "Forked from Climate Node v2 with an e-paper display.",
            ),
        ),
    ),
    DemoDesign(
        slug="climate-node-eink-wall",
        title="Climate Node E-Ink, wall-mount edition",
        summary="The e-ink Climate Node in a flush wall case that fits a European switch box.",
        description="""A remix of the **Climate Node E-Ink** (itself a remix of Climate Node) for a wall next to the
light switch.

- Fits a 60 mm European flush-mounting box
- USB-C lead runs inside the wall to a charger in the cupboard

Share-alike upstream: stays under CERN-OHL-S-2.0.""",
        licence="CERN-OHL-S-2.0",
        tags=("sensor", "temperature", "humidity", "e-paper", "wall-mount"),
        actor="emil",
        fork_of=("climate-node-eink", 1),
        releases=(
            Release(
                _climate("climate-node-eink-wall", "Climate Node E-Ink wall", "1.0.0", 0.8),
                [
                    *CLIMATE_BOM[:4],
                    line("E-paper display, 2.9 inch, SPI", 1, 890),
                    line("Wall plate for 60 mm box, 3D printed", 1, 210),
                ],
                "Forked from Climate Node E-Ink v1: a flush wall case.",
            ),
        ),
    ),
    DemoDesign(
        slug="motion-eye",
        title="Motion Eye: PIR motion sensor",
        summary="A ceiling or corner PIR sensor that publishes motion events over MQTT.",
        description="""Motion Eye watches a room with a 100° PIR lens and sends `{"motion": true}` the moment
something moves, then `{"motion": false}` after the hold time.

## Tips
- Mount it 2.2 m high in a corner for the widest view.
- Set a hold time of 60 s for corridors, 300 s for living rooms.
- Pets under 15 kg are ignored at the default sensitivity.""",
        licence="MIT",
        tags=("sensor", "motion", "pir", "mqtt"),
        actor="chen",
        releases=(
            Release(_motion("motion-eye", "Motion Eye", "1.0.0", 0.4, sensitivity=False), MOTION_BOM, "First release."),
            Release(
                _motion("motion-eye", "Motion Eye", "1.1.0", 0.3, sensitivity=True),
                MOTION_BOM,
                "Sensitivity is now a setting; idle power down to 0.3 W.",
            ),
        ),
    ),
    DemoDesign(
        slug="presence-radar",
        title="Presence Radar: mmWave presence sensor",
        summary="A 24 GHz radar that notices people sitting still, where a PIR sensor would see nobody.",
        description="""A remix of **Motion Eye v2** with a 24 GHz mmWave radar module instead of the PIR sensor.

- Detects breathing-level movement up to 5 m
- Same MQTT topics and events as Motion Eye
- Works through thin wooden or plastic covers

The upstream is MIT; this remix is Apache-2.0 for its patent grant.""",
        licence="Apache-2.0",
        tags=("sensor", "motion", "presence", "radar", "remix"),
        actor="ada",
        fork_of=("motion-eye", 2),
        releases=(
            Release(
                _motion("presence-radar", "Presence Radar", "1.0.0", 0.9, sensitivity=True),
                [MOTION_BOM[0], line("24 GHz radar module LD2410C", 1, 390), *MOTION_BOM[2:]],
                "Forked from Motion Eye v2 with a radar module.",
            ),
        ),
    ),
    DemoDesign(
        slug="relay-one",
        title="Relay One: single-channel relay switch",
        summary="A 10 A relay switch for a lamp or a fan, commanded over MQTT.",
        description="""Relay One switches one mains load (up to 10 A resistive, 2 A inductive) on command:
publish `ON` or `OFF` to its `relay/set` topic; the state is retained on `relay/state`.

> **Mains voltage.** Build and install it only if you are qualified to, in a closed enclosure.

The logic side runs from USB-C; the relay contacts are isolated by 6 mm creepage.""",
        licence="CERN-OHL-P-2.0",
        tags=("relay", "switch", "mqtt", "mains"),
        actor="chen",
        releases=(
            Release(
                td(
                    "relay-one",
                    "Relay One",
                    "A single-channel relay switch commanded over MQTT.",
                    instance="1.0.0",
                    families=(SMART_HOME,),
                    provides=(provide("data.mqtt.actuator.switch", controllers=2),),
                    requires=(usb_c(1), BROKER, WIFI),
                    properties=switch_affordances("relay-one")[0],
                    actions=switch_affordances("relay-one")[1],
                ),
                [
                    line("ESP32-C3-MINI-1 module", 1, 245),
                    line("Relay 10 A, 5 V coil", 1, 160),
                    line("Screw terminal, 3 pole", 1, 40),
                    line("USB-C receptacle", 1, 45),
                    line("PCB, 2 layers, 50 x 35 mm", 1, 80),
                ],
                "First release.",
            ),
        ),
    ),
    DemoDesign(
        slug="relay-four-din",
        title="Relay Four: four-channel DIN-rail relay",
        summary="Four Relay One channels on a 4-module DIN-rail board, for a distribution box.",
        description="""A remix of **Relay One** with four channels on one board that snaps onto a 35 mm DIN rail.

- 4 x 10 A relays, each with its own MQTT topics (`relay1` ... `relay4`)
- Takes 4 modules (70 mm) of rail
- Manual override buttons on the front""",
        licence="CERN-OHL-W-2.0",
        tags=("relay", "switch", "din-rail", "mqtt", "remix"),
        actor="chen",
        team="open-sensors",
        fork_of=("relay-one", 1),
        releases=(
            Release(
                td(
                    "relay-four-din",
                    "Relay Four",
                    "A four-channel DIN-rail relay commanded over MQTT.",
                    instance="1.0.0",
                    families=(SMART_HOME, WORKSHOP),
                    provides=(provide("data.mqtt.actuator.switch", controllers=2),),
                    requires=(usb_c(2), BROKER, WIFI, require("mechanical.din-rail-35", width_mm=70)),
                    properties=switch_affordances("relay-four-din", 4)[0],
                    actions=switch_affordances("relay-four-din", 4)[1],
                ),
                [
                    line("ESP32-C3-MINI-1 module", 1, 245),
                    line("Relay 10 A, 5 V coil", 4, 160),
                    line("DIN-rail housing, 4 modules", 1, 390),
                    line("Tactile button", 4, 12),
                    line("USB-C receptacle", 1, 45),
                ],
                "Forked from Relay One v1: four channels on a DIN rail.",
            ),
        ),
    ),
    DemoDesign(
        slug="smart-plug",
        title="Smart plug with energy meter",
        summary="A Schuko plug-through switch that measures what the plugged-in device uses.",
        description="""Plug it into the wall, plug a lamp or a heater into it, and switch it over MQTT.

- 16 A relay, 3680 W
- Energy meter (±1 %), published every 10 s as `{"value": 42.0}` watts
- Remembers its state across power cuts

Non-commercial: build it for yourself and your friends.""",
        licence="CC-BY-NC-SA-4.0",
        tags=("plug", "switch", "energy", "mqtt"),
        actor="emil",
        releases=(
            Release(
                td(
                    "smart-plug",
                    "Smart plug",
                    "A plug-through switch with an energy meter.",
                    instance="1.0.0",
                    families=(SMART_HOME,),
                    provides=(
                        provide("data.mqtt.actuator.switch", controllers=2),
                        provide("power.mains-230v", watts=3680, sockets=1),
                    ),
                    requires=(BROKER, WIFI),
                    properties={
                        **switch_affordances("smart-plug")[0],
                        "power": reading("smart-plug", "power", "Power", "W", 0, 3680),
                    },
                    actions=switch_affordances("smart-plug")[1],
                ),
                [
                    line("ESP32-C3-MINI-1 module", 1, 245),
                    line("Relay 16 A", 1, 290),
                    line("Energy metering IC (BL0942)", 1, 70),
                    line("Schuko plug and socket set", 1, 380),
                    line("Flame-retardant case", 1, 220),
                ],
                "First release.",
            ),
        ),
    ),
    DemoDesign(
        slug="ha-box",
        title="Home Assistant Box",
        summary="Home Assistant on a small board, preconfigured for the starter kit's sensors, relay and lights.",
        description="""The brain of the **smart home starter**. It runs Home Assistant and subscribes to the kit's
MQTT devices: climate, motion, a relay and a dimmable light.

## What you get
- Home Assistant with MQTT discovery and a starter dashboard
- Automations: light on at motion after sunset, relay off when nobody moved for an hour
- Nightly backups to the SD card

## Needs
A broker (Hearth Hub) and the devices it manages. The box connects to the hub by Ethernet.""",
        licence="Apache-2.0",
        tags=("home-assistant", "hub", "automation"),
        actor="ada",
        team="open-sensors",
        cites=(
            ("climate-node", "Its sensor entities follow Climate Node's topics."),
            ("motion-eye", "The motion automations are tuned for Motion Eye."),
        ),
        releases=(
            Release(
                _ha_box("1.0.0", lights=False),
                [
                    line("Single-board computer, 4 GB", 1, 5500),
                    line("Industrial SD card, 32 GB", 1, 1400),
                    line("USB-C PD trigger board", 1, 190),
                    line("Aluminium case with heat sink", 1, 1200),
                ],
                "First release: climate, motion and a relay.",
            ),
            Release(
                _ha_box("1.1.0", lights=True),
                [
                    line("Single-board computer, 4 GB", 1, 5500),
                    line("Industrial SD card, 32 GB", 1, 1400),
                    line("USB-C PD trigger board", 1, 190),
                    line("Aluminium case with heat sink", 1, 1200),
                ],
                "Manages a dimmable light too: the starter's evening scene dims the Lumen panel.",
            ),
        ),
    ),
    DemoDesign(
        slug="wall-dashboard",
        title="Wall Dashboard: e-paper Home Assistant panel",
        summary="A 7.5-inch e-paper panel that shows your Home Assistant dashboard by the door.",
        description="""A calm screen for the hallway: weather, who is home, which lights are on.

- 7.5" e-paper, refreshed every 5 minutes or when something changes
- Touch buttons for three scenes
- Renders a Home Assistant dashboard; no cloud service involved""",
        licence="CC-BY-SA-4.0",
        tags=("home-assistant", "dashboard", "e-paper"),
        actor="emil",
        cites=(("ha-box", "Shows the Home Assistant Box's starter dashboard."),),
        releases=(
            Release(
                td(
                    "wall-dashboard",
                    "Wall Dashboard",
                    "An e-paper panel rendering a Home Assistant dashboard.",
                    instance="1.0.0",
                    families=(SMART_HOME,),
                    requires=(require("software.home-assistant", devices=1), usb_c(2), WIFI),
                    properties={"page": setting("wall-dashboard", "page", "Dashboard page", 1, 9)},
                ),
                [
                    line("E-paper display, 7.5 inch", 1, 3900),
                    line("ESP32-S3 board", 1, 890),
                    line("Oak frame, 3D printed insert", 1, 1100),
                ],
                "First release.",
            ),
        ),
    ),
    # --- lighting -------------------------------------------------------------------------------------------------
    DemoDesign(
        slug="lumen-panel",
        title="Lumen: dimmable LED panel",
        summary="A 15 cm square warm-white panel, dimmable over MQTT, powered from USB-C.",
        description="""Lumen is a flat, flicker-free LED panel for walls and ceilings.

## Light
- 2700 K, CRI 95, up to 800 lm
- PWM at 20 kHz: no visible flicker, no camera banding
- Dims to 1 % with a warm-dim curve

## Control
Publish `{"state": "ON", "brightness": 128}` to `crowdmaker/lumen-panel/light/set`.""",
        licence="CERN-OHL-W-2.0",
        tags=("led", "dimmable", "panel", "mqtt"),
        actor="farah",
        team="light-lab",
        releases=(
            Release(
                _lumen("lumen-panel", "Lumen", "1.0.0", 9, families=(LIGHTING, SMART_HOME)),
                [line("LED, 3000 K, CRI 90, 0.5 W", 24, 12), *LUMEN_BOM[1:]],
                "First release.",
            ),
            Release(
                _lumen("lumen-panel", "Lumen", "1.1.0", 8, families=(LIGHTING, SMART_HOME)),
                LUMEN_BOM,
                "CRI 95 LEDs at 2700 K; a more efficient driver, 8 W.",
            ),
        ),
    ),
    DemoDesign(
        slug="lumen-desk",
        title="Lumen Desk: the panel on an articulated arm",
        summary="The Lumen panel on a three-joint arm with a weighted base: a dimmable desk lamp.",
        description="""A remix of **Lumen v2** for the desk.

- Three-joint arm with friction hinges, reach 55 cm
- Weighted steel base, 1.8 kg
- The USB-C cable runs inside the arm

Stays under CERN-OHL-W-2.0.""",
        licence="CERN-OHL-W-2.0",
        tags=("led", "desk-lamp", "dimmable", "remix"),
        actor="farah",
        fork_of=("lumen-panel", 2),
        releases=(
            Release(
                _lumen("lumen-desk", "Lumen Desk", "1.0.0", 10, families=(LIGHTING, SMART_HOME)),
                [
                    *LUMEN_BOM,
                    line("Aluminium arm tube, 250 mm", 2, 310),
                    line("Friction hinge", 3, 240),
                    line("Steel base, powder coated", 1, 950),
                ],
                "Forked from Lumen v2: on an arm.",
            ),
        ),
    ),
    DemoDesign(
        slug="lumen-desk-clamp",
        title="Lumen Desk with bench clamp",
        summary="Lumen Desk without the base: it clamps onto a workbench's 2020 profile.",
        description="""A remix of **Lumen Desk** for the workshop: the weighted base becomes a T-nut clamp for the
Commons workbench's 2020 profile.

- Takes 40 mm of profile
- Arm extended to 75 cm to reach across the bench""",
        licence="CERN-OHL-S-2.0",
        tags=("led", "workshop", "clamp", "remix"),
        actor="bruno",
        fork_of=("lumen-desk", 1),
        releases=(
            Release(
                _lumen(
                    "lumen-desk-clamp",
                    "Lumen Desk clamp",
                    "1.0.0",
                    10,
                    families=(LIGHTING, WORKSHOP),
                    extra_requires=(require("mechanical.profile-2020", length_mm=40),),
                ),
                [
                    *LUMEN_BOM,
                    line("Aluminium arm tube, 350 mm", 2, 380),
                    line("Friction hinge", 3, 240),
                    line("Clamp block with M5 T-nuts", 1, 420),
                ],
                "Forked from Lumen Desk v1: a profile clamp instead of the base.",
            ),
        ),
    ),
    DemoDesign(
        slug="strip-driver",
        title="Strip Driver: four-channel 12 V LED dimmer",
        summary="Dims up to four 12 V LED strips together, commanded over MQTT like any Lumen light.",
        description="""For shelves, kitchen cabinets and coves.

- Four MOSFET channels, 4 A each, 48 W in total
- Runs from a 12 V barrel supply
- Behaves as one dimmable light on MQTT""",
        licence="CERN-OHL-P-2.0",
        tags=("led-strip", "dimmer", "12v", "mqtt"),
        actor="ada",
        releases=(
            Release(
                td(
                    "strip-driver",
                    "Strip Driver",
                    "A four-channel 12 V LED strip dimmer.",
                    instance="1.0.0",
                    families=(LIGHTING, SMART_HOME),
                    provides=(provide("data.mqtt.actuator.light", controllers=2),),
                    requires=(require("power.dc-barrel-12v", watts=48, ports=1), BROKER, WIFI),
                    properties=light_affordances("strip-driver")[0],
                    actions=light_affordances("strip-driver")[1],
                ),
                [
                    line("ESP32-C3-MINI-1 module", 1, 245),
                    line("Logic-level MOSFET", 4, 35),
                    line("Barrel jack 5.5 x 2.1 mm", 1, 30),
                    line("Screw terminal, 2 pole", 4, 25),
                ],
                "First release.",
            ),
        ),
    ),
    DemoDesign(
        slug="desk-supply-12v",
        title="12 V desk power supply, 60 W",
        summary="A fanless 12 V supply with two barrel outputs for LED strips and small tools.",
        description="""A sealed 60 W supply for the bench or the cupboard.

- 12 V, 5 A, two barrel outputs
- Short-circuit and over-temperature protection
- Screw-down lid: no mains parts are reachable""",
        licence="CC-BY-4.0",
        tags=("power", "12v", "supply"),
        actor="dara",
        releases=(
            Release(
                td(
                    "desk-supply-12v",
                    "12 V desk supply",
                    "12 V DC, 60 W, two barrel outputs.",
                    instance="1.0.0",
                    families=(LIGHTING, WORKSHOP),
                    provides=(provide("power.dc-barrel-12v", watts=60, ports=2),),
                ),
                [
                    line("Open-frame supply module 12 V 60 W", 1, 1150),
                    line("Barrel jack 5.5 x 2.1 mm", 2, 30),
                    line("IEC C8 inlet", 1, 90),
                    line("Injection-moulded case", 1, 310),
                ],
                "First release.",
            ),
        ),
    ),
    DemoDesign(
        slug="origami-pendant",
        title="Origami pendant shade",
        summary="A pendant lampshade folded from one sheet, with a fold pattern you can print at home.",
        description="""Print the pattern on A2 paper or cut it from 0.5 mm polypropylene, score the dashed lines,
fold, and hang it over any E27 bulb up to 10 W LED.

## Files
- `pattern-a2.pdf`: the fold pattern
- `scoring-guide.pdf`: which lines are valleys and which are mountains""",
        licence="CC-BY-NC-4.0",
        tags=("lampshade", "origami", "pendant", "paper"),
        actor="farah",
        releases=(
            Release(
                _origami("origami-pendant", "Origami pendant shade", "1.0.0"),
                [line("Polypropylene sheet, 0.5 mm, A2", 1, 420), line("E27 pendant cord set", 1, 890)],
                "First release.",
            ),
            Release(
                _origami("origami-pendant", "Origami pendant shade", "2.0.0"),
                [
                    line("Polypropylene sheet, 0.5 mm, A2", 1, 420),
                    line("E27 pendant cord set", 1, 890),
                    line("Brass ring, 40 mm", 1, 150),
                ],
                "A new fold pattern that keeps its shape without glue; brass ring at the top.",
            ),
        ),
    ),
    DemoDesign(
        slug="origami-pendant-wide",
        title="Origami pendant, wide",
        summary="The origami pendant stretched to 60 cm across, for a dining table.",
        description="""A remix of **Origami pendant shade v2** with twelve facets instead of eight and a 60 cm span.

Licensed CC-BY-NC-SA-4.0: like its upstream, not for commercial use.""",
        licence="CC-BY-NC-SA-4.0",
        tags=("lampshade", "origami", "pendant", "remix"),
        actor="bruno",
        fork_of=("origami-pendant", 2),
        releases=(
            Release(
                _origami("origami-pendant-wide", "Origami pendant, wide", "1.0.0"),
                [
                    line("Polypropylene sheet, 0.5 mm, A1", 1, 6900, "SEK"),
                    line("E27 pendant cord set", 1, 9900, "SEK"),
                    line("Brass ring, 60 mm", 1, 2200, "SEK"),
                ],
                "Forked from the origami pendant v2: twelve facets, 60 cm.",
            ),
        ),
    ),
    DemoDesign(
        slug="walnut-bedside-lamp",
        title="Walnut bedside lamp",
        summary="A turned walnut lamp with a linen shade, powered from USB-C.",
        description="""Turned from one block of walnut, oiled, with a linen shade and a touch dimmer in the base.

Published as it is (CC-BY-ND-4.0): share it, build it, but please do not publish changed versions.""",
        licence="CC-BY-ND-4.0",
        tags=("lamp", "walnut", "bedside", "woodturning"),
        actor="bruno",
        releases=(
            Release(
                td(
                    "walnut-bedside-lamp",
                    "Walnut bedside lamp",
                    "A USB-C powered bedside lamp.",
                    instance="1.0.0",
                    families=(LIGHTING,),
                    requires=(usb_c(5),),
                ),
                [
                    line("Walnut block, 120 x 120 x 200 mm", 1, 35000, "SEK"),
                    line("Linen shade, 20 cm", 1, 19000, "SEK"),
                    line("USB-C touch dimmer board", 1, 8900, "SEK"),
                    line("LED bulb, 5 V, 4 W", 1, 6900, "SEK"),
                ],
                "First release.",
            ),
        ),
    ),
    DemoDesign(
        slug="firefly-night-light",
        title="Firefly: motion-activated RGB night light",
        summary="A small colour night light that glows when a motion sensor sees someone at night.",
        description="""Firefly subscribes to a motion sensor's events and fades in a dim amber glow, so nobody
stumbles to the kitchen in the dark.

- 12 RGB LEDs, full colour over MQTT
- Listens to any motion sensor on the broker (Motion Eye, Presence Radar)
- Firmware: GPL-3.0-or-later, like the hardware""",
        licence="GPL-3.0-or-later",
        tags=("night-light", "rgb", "motion", "mqtt"),
        actor="chen",
        cites=(
            ("lumen-panel", "The MQTT light schema and warm-dim curve come from Lumen."),
            ("motion-eye", "Subscribes to Motion Eye's motion events."),
        ),
        releases=(
            Release(
                td(
                    "firefly-night-light",
                    "Firefly",
                    "A motion-activated RGB night light.",
                    instance="1.0.0",
                    families=(LIGHTING, SMART_HOME),
                    provides=(provide("data.mqtt.actuator.light", controllers=2),),
                    requires=(usb_c(2), BROKER, WIFI, require("data.mqtt.sensor.motion", subscribers=1)),
                    properties=light_affordances("firefly-night-light", colour=True)[0],
                    actions=light_affordances("firefly-night-light", colour=True)[1],
                ),
                [
                    line("ESP32-C3-MINI-1 module", 1, 245),
                    line("RGB LED WS2812B", 12, 9),
                    line("Frosted dome, 60 mm", 1, 180),
                    line("USB-C receptacle", 1, 45),
                ],
                "First release.",
            ),
        ),
    ),
    DemoDesign(
        slug="turn-dimmer",
        title="Turn: rotary dimmer knob",
        summary="A magnetic wall knob that dims any MQTT light: turn to dim, press to switch.",
        description="""Turn sticks to a steel plate on the wall and controls one dimmable light on the broker.

- Turn: brightness in 16 steps; press: on/off; long press: full brightness
- Pairs with any `data.mqtt.actuator.light` (Lumen, Strip Driver, Firefly)
- USB-C powered; a wall-box version is planned""",
        licence="CC-BY-SA-4.0",
        tags=("dimmer", "knob", "controller", "mqtt"),
        actor="farah",
        team="light-lab",
        cites=(("lumen-panel", "Designed as Lumen's companion controller."),),
        releases=(
            Release(
                td(
                    "turn-dimmer",
                    "Turn",
                    "A rotary dimmer knob that commands an MQTT light.",
                    instance="1.0.0",
                    families=(LIGHTING, SMART_HOME),
                    requires=(require("data.mqtt.actuator.light", controllers=1), usb_c(0.4), BROKER, WIFI),
                    events={
                        "turned": {
                            "title": "Turned",
                            "data": {"type": "integer", "minimum": -16, "maximum": 16},
                            "forms": [{"href": _topic("turn-dimmer", "turned"), "op": "subscribeevent"}],
                        }
                    },
                ),
                [
                    line("ESP32-C3-MINI-1 module", 1, 245),
                    line("Rotary encoder with push switch", 1, 120),
                    line("Turned aluminium knob", 1, 650),
                    line("Neodymium magnet, 10 mm", 4, 20),
                ],
                "First release.",
            ),
        ),
    ),
    DemoDesign(
        slug="bench-light-bar",
        title="Bench light bar for 2020 profile",
        summary="A 1 m shadow-free LED bar that mounts on a workbench's 2020 profile.",
        description="""Even, shadow-free light across the whole bench.

- 1 m aluminium bar, 5000 K, CRI 90, 2400 lm
- Mounts on the upper cross-member of a 2020 workbench
- 12 V, 24 W from a barrel supply""",
        licence="CERN-OHL-W-2.0",
        tags=("led", "workshop", "task-light", "2020-profile"),
        actor="farah",
        team="light-lab",
        cites=(
            ("workbench-2020", "Made to fit the Commons workbench's cross-members."),
            ("strip-driver", "Uses Strip Driver's LED tape and channel layout."),
        ),
        releases=(
            Release(
                td(
                    "bench-light-bar",
                    "Bench light bar",
                    "A 1 m LED bar for 2020 profile.",
                    instance="1.0.0",
                    families=(LIGHTING, WORKSHOP),
                    requires=(
                        require("mechanical.profile-2020", length_mm=1000),
                        require("power.dc-barrel-12v", watts=24, ports=1),
                    ),
                ),
                [
                    line("LED tape, 5000 K, CRI 90, 1 m", 1, 890),
                    line("Aluminium channel with diffuser, 1 m", 1, 650),
                    line("M5 T-nut", 4, 15),
                    line("Barrel lead, 2 m", 1, 120),
                ],
                "First release.",
            ),
        ),
    ),
    # --- workshop -------------------------------------------------------------------------------------------------
    DemoDesign(
        slug="workbench-2020",
        title="Commons workbench on 2020 profile",
        summary="A sturdy 1200 x 600 mm bench frame of 2020 aluminium profile that tools and lights clamp onto.",
        description="""The shared workshop's standard bench. Everything else in the workshop family mounts on it.

## Build
1. Cut the profile to length (cut list in `cutlist.csv`).
2. Assemble the two end frames with corner brackets; square them with a framing square.
3. Join the frames with the long rails, add the top and the levelling feet.

## Capacity
Free profile for accessories: about 6 m on v2. Version 3 adds a DIN rail under the top for relays and meters.""",
        licence="CC-BY-SA-4.0",
        tags=("workbench", "2020-profile", "furniture", "workshop"),
        actor="bruno",
        team="workshop-commons",
        releases=(
            Release(_workbench("1.0.0", 4800), WORKBENCH_BOM, "First release."),
            Release(
                _workbench("2.0.0", 6000, holes=24),
                [*WORKBENCH_BOM, line("M3 mounting strip", 2, 4500, "SEK")],
                "A second upper rail (6 m of free profile) and M3 strips for electronics.",
            ),
            Release(
                _workbench("2.1.0", 6000, holes=24, din_mm=420),
                [*WORKBENCH_BOM, line("M3 mounting strip", 2, 4500, "SEK"), line("DIN rail, 420 mm", 1, 3900, "SEK")],
                "A DIN rail under the top: room for 24 modules.",
            ),
        ),
    ),
    DemoDesign(
        slug="workbench-2020-compact",
        title="Compact workbench for balconies",
        summary="The Commons workbench shrunk to 800 x 450 mm, with folding legs.",
        description="""A remix of the **Commons workbench v2** for flats: folds flat against a wall.

- 800 x 450 mm top
- Folding legs with locking hinges
- 2.4 m of free profile for accessories

Share-alike: stays under CC-BY-SA-4.0.""",
        licence="CC-BY-SA-4.0",
        tags=("workbench", "2020-profile", "folding", "remix"),
        actor="farah",
        fork_of=("workbench-2020", 2),
        releases=(
            Release(
                td(
                    "workbench-2020-compact",
                    "Compact workbench",
                    "A folding bench frame of 2020 profile.",
                    instance="1.0.0",
                    families=(WORKSHOP,),
                    provides=(
                        provide("mechanical.profile-2020", length_mm=2400),
                        provide("mechanical.m3-mount", holes=8),
                    ),
                ),
                [
                    line("Aluminium profile 2020, 1 m", 4, 790),
                    line("Locking hinge for 2020", 4, 650),
                    line("Birch plywood top, 18 mm, 800 x 450", 1, 3900),
                ],
                "Forked from the Commons workbench v2: smaller and folding.",
            ),
        ),
    ),
    DemoDesign(
        slug="tool-rail",
        title="Tool rail: clip-on holders for 2020 profile",
        summary="Printable holders for pliers, screwdrivers and spools that clip onto any 2020 profile.",
        description="""A set of twelve holders that snap onto a 2020 profile without tools.

- Pliers, screwdrivers, tweezers, solder spool, tape
- Print in PETG, 3 walls, 20 % infill
- Takes about 60 cm of profile for the full set

Public domain: do anything you like with it.""",
        licence="CC0-1.0",
        tags=("tool-holder", "2020-profile", "3d-print"),
        actor="bruno",
        cites=(("workbench-2020", "Sized for the Commons workbench's back rail."),),
        releases=(
            Release(
                td(
                    "tool-rail",
                    "Tool rail",
                    "Clip-on tool holders for 2020 profile.",
                    instance="1.0.0",
                    families=(WORKSHOP,),
                    requires=(require("mechanical.profile-2020", length_mm=600),),
                ),
                [line("PETG filament, 1 kg", 1, 22900, "SEK")],
                "First release.",
            ),
        ),
    ),
    DemoDesign(
        slug="bench-power-strip",
        title="Bench power strip, 6 sockets",
        summary="Six Schuko sockets with a 16 A breaker that bolt onto a workbench's 2020 profile.",
        description="""Power where the tools are.

- 6 Schuko sockets, 16 A / 3680 W in total
- Thermal-magnetic breaker and a lit main switch
- Mounts on 400 mm of 2020 profile with M5 T-nuts

> Wire it only if you are qualified to work on mains.""",
        licence="CERN-OHL-S-2.0",
        tags=("power", "mains", "2020-profile", "workshop"),
        actor="dara",
        cites=(("workbench-2020", "Bolts onto the Commons workbench's front rail."),),
        releases=(
            Release(
                td(
                    "bench-power-strip",
                    "Bench power strip",
                    "Six mains sockets for a 2020 profile bench.",
                    instance="1.0.0",
                    families=(WORKSHOP,),
                    provides=(provide("power.mains-230v", watts=3680, sockets=6),),
                    requires=(require("mechanical.profile-2020", length_mm=400),),
                ),
                [
                    line("Schuko socket insert", 6, 290),
                    line("Circuit breaker C16", 1, 690),
                    line("Aluminium channel, 400 mm", 1, 540),
                    line("Mains cable H07RN-F 3G2.5, 3 m", 1, 780),
                ],
                "First release.",
            ),
        ),
    ),
    DemoDesign(
        slug="din-enclosure",
        title="DIN-rail enclosure, 12 modules",
        summary="An injection-moulded enclosure with a 35 mm DIN rail for relays, meters and supplies.",
        description="""A small distribution box for low-voltage electronics and relays.

- 12 modules (210 mm) of 35 mm rail
- IP40, transparent hinged cover
- Knock-outs for M20 glands on all sides""",
        licence="CERN-OHL-P-2.0",
        tags=("enclosure", "din-rail", "injection-moulding"),
        actor="dara",
        team="workshop-commons",
        releases=(
            Release(
                td(
                    "din-enclosure",
                    "DIN-rail enclosure",
                    "12 modules of 35 mm DIN rail.",
                    instance="1.0.0",
                    families=(WORKSHOP,),
                    provides=(provide("mechanical.din-rail-35", width_mm=210),),
                ),
                [
                    line("Enclosure, injection-moulded PC", 1, 940),
                    line("DIN rail, 210 mm", 1, 120),
                    line("Hinged cover, clear PC", 1, 380),
                ],
                "First release.",
            ),
            Release(
                td(
                    "din-enclosure",
                    "DIN-rail enclosure",
                    "12 modules of 35 mm DIN rail and an M3 back plate.",
                    instance="1.1.0",
                    families=(WORKSHOP,),
                    provides=(provide("mechanical.din-rail-35", width_mm=210), provide("mechanical.m3-mount", holes=8)),
                ),
                [
                    line("Enclosure, injection-moulded PC", 1, 940),
                    line("DIN rail, 210 mm", 1, 120),
                    line("Hinged cover, clear PC", 1, 380),
                    line("Back plate with M3 inserts", 1, 260),
                ],
                "A back plate with eight M3 inserts for boards that do not clip onto a rail.",
            ),
        ),
    ),
    DemoDesign(
        slug="soldering-station",
        title="Open soldering station, 90 W",
        summary="A temperature-controlled soldering station for T12 tips, with an open firmware.",
        description="""Heats a T12 tip to 320 °C in 8 seconds and holds it within ±2 °C.

- 90 W, T12 tips, 150 to 450 °C
- Sleep when the handle rests in the stand
- Firmware and schematics under CERN-OHL-S-2.0""",
        licence="CERN-OHL-S-2.0",
        tags=("soldering", "tools", "electronics"),
        actor="ada",
        releases=(
            Release(
                td(
                    "soldering-station",
                    "Soldering station",
                    "A 90 W temperature-controlled soldering station.",
                    instance="1.0.0",
                    families=(WORKSHOP,),
                    requires=(require("power.mains-230v", watts=90, sockets=1),),
                ),
                [
                    line("24 V 100 W supply module", 1, 1450),
                    line("T12 handle with tip", 1, 990),
                    line("STM32G0 controller board", 1, 620),
                    line("OLED display 0.96 inch", 1, 290),
                    line("Steel case", 1, 840),
                ],
                "First release.",
            ),
        ),
    ),
    DemoDesign(
        slug="fume-extractor",
        title="Solder fume extractor",
        summary="A quiet USB-C fan with an activated-carbon filter that sits next to the soldering station.",
        description="""Pulls solder fumes away from your face through a carbon filter.

- 120 mm fan, 6 W, under 35 dB(A)
- Standard 130 x 130 mm carbon filter pads
- Runs from any USB-C charger""",
        licence="CC-BY-4.0",
        tags=("soldering", "fume-extractor", "tools"),
        actor="dara",
        cites=(("soldering-station", "Sized to stand beside the open soldering station."),),
        releases=(
            Release(
                td(
                    "fume-extractor",
                    "Fume extractor",
                    "A USB-C fan with a carbon filter.",
                    instance="1.0.0",
                    families=(WORKSHOP,),
                    requires=(usb_c(6),),
                ),
                [
                    line("Fan, 120 mm, 12 V", 1, 690),
                    line("USB-C PD trigger, 12 V", 1, 190),
                    line("Carbon filter pad", 2, 150),
                    line("Frame, 3D printed PETG", 1, 320),
                ],
                "First release.",
            ),
        ),
    ),
    DemoDesign(
        slug="cyclone-dust-extractor",
        title="Cyclone dust extractor",
        summary="A two-stage cyclone on a 30 l drum that catches 99 % of the dust before the vacuum.",
        description="""Put a cyclone between the tools and the vacuum and the filter stays clean.

- Cyclone separator on a 30 l steel drum
- 1200 W vacuum motor, 58 mm hose
- Auto-start socket: switches on with the tool""",
        licence="CC-BY-4.0",
        tags=("dust-extraction", "cyclone", "tools", "workshop"),
        actor="bruno",
        releases=(
            Release(
                td(
                    "cyclone-dust-extractor",
                    "Cyclone dust extractor",
                    "A cyclone dust extractor with a 1200 W motor.",
                    instance="1.0.0",
                    families=(WORKSHOP,),
                    requires=(require("power.mains-230v", watts=1200, sockets=1),),
                ),
                [
                    line("Vacuum motor 1200 W", 1, 69000, "SEK"),
                    line("Cyclone separator", 1, 39000, "SEK"),
                    line("Steel drum, 30 l", 1, 29000, "SEK"),
                    line("Hose, 58 mm, 3 m", 1, 24900, "SEK"),
                ],
                "First release.",
            ),
        ),
    ),
    DemoDesign(
        slug="cyclone-dust-extractor-quiet",
        title="Quiet cyclone dust extractor",
        summary="The cyclone dust extractor in a muffled plywood cabinet: 12 dB quieter.",
        description="""A remix of the **Cyclone dust extractor** for shared workshops where people talk.

- Plywood cabinet lined with acoustic foam
- Baffled exhaust: 12 dB(A) quieter at 1 m
- Same motor and cyclone

Non-commercial licence (CC-BY-NC-4.0), which the CC-BY upstream allows.""",
        licence="CC-BY-NC-4.0",
        tags=("dust-extraction", "quiet", "workshop", "remix"),
        actor="dara",
        fork_of=("cyclone-dust-extractor", 1),
        releases=(
            Release(
                td(
                    "cyclone-dust-extractor-quiet",
                    "Quiet cyclone dust extractor",
                    "A cyclone dust extractor in an acoustic cabinet.",
                    instance="1.0.0",
                    families=(WORKSHOP,),
                    requires=(require("power.mains-230v", watts=1200, sockets=1),),
                ),
                [
                    line("Vacuum motor 1200 W", 1, 6200),
                    line("Cyclone separator", 1, 3500),
                    line("Steel drum, 30 l", 1, 2600),
                    line("Birch plywood, 12 mm, 1250 x 1250", 2, 4200),
                    line("Acoustic foam, 1 m2", 2, 1900),
                ],
                "Forked from the Cyclone dust extractor v1: a muffled cabinet.",
            ),
        ),
    ),
    DemoDesign(
        slug="folding-sawhorse",
        title="Folding sawhorse",
        summary="A pair of plywood sawhorses that fold flat and carry 300 kg each.",
        description="""Cut from one sheet of 18 mm plywood on a CNC router; no screws, no glue.

- Height 75 cm, folds to 5 cm
- 300 kg per horse
- Cut file: `sawhorse.dxf`, 6 mm end mill""",
        licence="CC0-1.0",
        tags=("sawhorse", "cnc", "plywood", "furniture"),
        actor="bruno",
        releases=(
            Release(
                td(
                    "folding-sawhorse",
                    "Folding sawhorse",
                    "Flat-folding plywood sawhorses; not connected.",
                    instance="1.0.0",
                    families=(WORKSHOP,),
                ),
                [line("Birch plywood, 18 mm, 1250 x 2500", 1, 95000, "SEK")],
                "First release.",
            ),
        ),
    ),
    DemoDesign(
        slug="stacking-sawhorse",
        title="Stacking sawhorse",
        summary="The folding sawhorse redesigned to stack six high in a corner.",
        description="""A remix of the **Folding sawhorse**: rigid instead of folding, and the legs nest so six
horses stack in 40 cm of floor.

Licensed CC-BY-4.0 (the upstream is public domain, so any licence is allowed).""",
        licence="CC-BY-4.0",
        tags=("sawhorse", "cnc", "plywood", "remix"),
        actor="farah",
        fork_of=("folding-sawhorse", 1),
        releases=(
            Release(
                td(
                    "stacking-sawhorse",
                    "Stacking sawhorse",
                    "Stacking plywood sawhorses; not connected.",
                    instance="1.0.0",
                    families=(WORKSHOP,),
                ),
                [line("Birch plywood, 18 mm, 1250 x 2500", 1, 8900)],
                "Forked from the Folding sawhorse v1.",
            ),
        ),
    ),
    DemoDesign(
        slug="workshop-climate-logger",
        title="Workshop climate logger",
        summary="Climate Node on a DIN rail, to watch the conditions glue and finishes cure in.",
        description="""A remix of **Climate Node v3** for the workshop: it clips onto the workbench's DIN rail and
warns when the room is too cold or damp for glue-ups and finishes.

- Takes two modules (35 mm) of rail, cable clip included
- Same MQTT topics as Climate Node
- An alert threshold setting for humidity""",
        licence="CERN-OHL-W-2.0",
        tags=("sensor", "workshop", "humidity", "din-rail", "remix"),
        actor="dara",
        team="workshop-commons",
        fork_of=("climate-node", 3),
        releases=(
            Release(
                _climate(
                    "workshop-climate-logger",
                    "Workshop climate logger",
                    "1.0.0",
                    0.5,
                    families=(WORKSHOP, SMART_HOME),
                    extra_requires=(require("mechanical.din-rail-35", width_mm=35),),
                ),
                [*CLIMATE_BOM[:4], line("DIN-rail housing, 2 modules", 1, 290)],
                "Forked from Climate Node v3: a DIN-rail housing.",
            ),
        ),
    ),
)

# emil's saved systems: (name, [(design slug, version number or None for the latest, quantity)]).
SYSTEMS: tuple[tuple[str, tuple[tuple[str, int | None, int], ...]], ...] = (
    (
        "Smart home starter",
        (
            ("hexa-charger", None, 1),
            ("hearth-hub", None, 1),
            ("climate-node", None, 1),
            ("motion-eye", None, 1),
            ("relay-one", None, 1),
            ("lumen-panel", None, 1),
            ("ha-box", None, 1),
        ),
    ),
    (
        "Half-built living room",
        (
            ("hearth-hub", None, 1),
            ("climate-node-eink-wall", None, 1),
            ("lumen-panel", None, 1),
            ("smart-plug", None, 1),
            ("ha-box", None, 1),
            ("wall-dashboard", None, 1),
        ),
    ),
)
SYSTEM_OWNER = "emil"


# --- pictures -----------------------------------------------------------------------------------------------------

PICTURE_SIZE = (360, 240)  # small enough to generate 39 in well under a second
# Background gradient (top, bottom) per family, RGB.
FAMILY_COLOURS = {
    SMART_HOME: ((214, 232, 245), (120, 160, 200)),
    LIGHTING: ((255, 243, 214), (214, 160, 90)),
    WORKSHOP: ((232, 228, 218), (150, 140, 120)),
}


def png(width: int, height: int, rows: Iterator[bytes]) -> bytes:
    """An 8-bit RGB PNG from raw rows of `width` * 3 bytes (filter type 0 on every row)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + row for row in rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def picture(slug: str, family: str) -> bytes:
    """A placeholder picture: the family's gradient and a silhouette in a colour derived from the slug (a puck for
    smart-home, a lamp shade for lighting, a bench for workshop)."""
    width, height = PICTURE_SIZE
    (r0, g0, b0), (r1, g1, b1) = FAMILY_COLOURS[family]
    hue = (zlib.crc32(slug.encode()) % 360) / 360
    accent = bytes(round(255 * c) for c in colorsys.hsv_to_rgb(hue, 0.55, 0.8))
    cx, cy = width // 2, height // 2

    def span(y: int) -> tuple[int, int] | None:
        if family == SMART_HOME:  # a round sensor puck
            radius, dy = height * 0.3, y - cy
            if abs(dy) >= radius:
                return None
            half = int((radius * radius - dy * dy) ** 0.5)
            return cx - half, cx + half
        if family == LIGHTING:  # a shade widening downwards over a cord
            top, bottom = height * 0.3, height * 0.7
            if y < top:
                return (cx - 2, cx + 2) if y > height * 0.08 else None
            if y > bottom:
                return None
            half = int(width * (0.08 + 0.22 * (y - top) / (bottom - top)))
            return cx - half, cx + half
        if height * 0.32 <= y < height * 0.4:  # a bench top ...
            return int(width * 0.15), int(width * 0.85)
        if height * 0.4 <= y < height * 0.78:  # ... and its legs (the gap is drawn below)
            return int(width * 0.2), int(width * 0.8)
        return None

    def rows() -> Iterator[bytes]:
        for y in range(height):
            t = y / (height - 1)
            background = bytes(round(a + (b - a) * t) for a, b in ((r0, r1), (g0, g1), (b0, b1)))
            shape = span(y)
            if shape is None:
                yield background * width
                continue
            left, right = shape
            if family == WORKSHOP and y >= height * 0.4:
                leg = int(width * 0.05)
                yield (
                    background * left
                    + accent * leg
                    + background * (right - left - 2 * leg)
                    + accent * leg
                    + background * (width - right)
                )
                continue
            yield background * left + accent * (right - left) + background * (width - right)

    return png(width, height, rows())


# --- loading ------------------------------------------------------------------------------------------------------


def _version(slug: str, number: int | None) -> DesignVersion:
    versions = DesignVersion.objects.filter(design__slug=slug).select_related("design")
    if number is not None:
        return versions.get(number=number)
    latest = versions.order_by("-number").first()
    if latest is None:
        raise DesignVersion.DoesNotExist(f"No design {slug!r}")
    return latest


def _load_design(spec: DemoDesign, makers: dict[str, User], teams: dict[str, Team], report: Report) -> int:
    """Create what is missing of one design (the design, its later versions, its picture); the rows created."""
    actor = makers[spec.actor]
    team = teams[spec.team] if spec.team else None
    created = 0
    design = Design.objects.filter(slug=spec.slug).first()
    first = spec.releases[0]
    if design is None:
        if spec.fork_of is None:
            design = services.design_create(
                actor=actor, slug=spec.slug, title=spec.title, licence=spec.licence, summary=spec.summary,
                description=spec.description, tags=spec.tags, team=team, manifest=first.manifest, bom=first.bom,
                release_notes=first.notes,
            )  # fmt: skip
        else:
            design = services.design_fork(
                actor=actor, upstream=_version(*spec.fork_of), slug=spec.slug, title=spec.title, licence=spec.licence,
                summary=spec.summary, description=spec.description, tags=spec.tags, team=team,
                manifest=first.manifest, bom=first.bom, release_notes=first.notes,
            )  # fmt: skip
        created += 2  # the design and its first version
    present = design.versions.count()
    for release in spec.releases[present:]:
        services.design_version_publish(
            actor=actor, design=design, manifest=release.manifest, bom=release.bom, release_notes=release.notes
        )
        created += 1
    if not design.images.exists():
        upload = SimpleUploadedFile(f"{spec.slug}.png", picture(spec.slug, spec.families[0]), "image/png")
        services.design_image_add(
            actor=actor, design=design, upload=upload, alt=f"{spec.title}: a generated placeholder picture"
        )
        created += 1
    if created:
        origin = f", fork of {spec.fork_of[0]} v{spec.fork_of[1]}" if spec.fork_of else ""
        owner = spec.team or spec.actor
        report(f"design {spec.slug} ({owner}, {spec.licence}, {len(spec.releases)} version(s){origin})")
    return created


def _load_citations(spec: DemoDesign, makers: dict[str, User], report: Report) -> int:
    created = 0
    for cited_slug, note in spec.cites:
        if Citation.objects.filter(design__slug=spec.slug, cited__slug=cited_slug).exists():
            continue
        design = Design.objects.get(slug=spec.slug)
        services.design_cite(
            actor=makers[spec.actor], design=design, cited=Design.objects.get(slug=cited_slug), note=note
        )
        report(f"citation {spec.slug} -> {cited_slug}")
        created += 1
    return created


def _load_system(owner: User, name: str, members: tuple[tuple[str, int | None, int], ...], report: Report) -> int:
    if System.objects.filter(owner=owner, name=name).exists():
        return 0
    system = systems.system_create(actor=owner, name=name)
    for slug, number, quantity in members:
        systems.system_member_add(
            actor=owner, system_id=system.id, design_version=_version(slug, number), quantity=quantity
        )
    report(f"system {name!r} of {owner.handle} with {len(members)} products")
    return 1 + len(members)


@transaction.atomic
def load(report: Report) -> int:
    handles = {spec.actor for spec in CATALOG} | {SYSTEM_OWNER}
    makers = {user.handle: user for user in User.objects.filter(handle__in=handles)}
    teams = {team.slug: team for team in Team.objects.filter(slug__in={s.team for s in CATALOG if s.team})}
    if len(makers) < len(handles):  # the people loader (order 10) runs first; someone removed a demo maker
        report(f"skipped: the demo makers {sorted(handles - set(makers))} are missing")
        return 0
    created = 0
    for spec in CATALOG:
        created += _load_design(spec, makers, teams, report)
    for spec in CATALOG:
        created += _load_citations(spec, makers, report)
    for name, members in SYSTEMS:
        created += _load_system(makers[SYSTEM_OWNER], name, members, report)
    return created


register_demo(name="commons: designs, remixes and systems", order=20, load=load)
