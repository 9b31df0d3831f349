#!/usr/bin/env python3
"""registry.py: JSON for lib/harness-registry.sh (stdlib only, python 3.8+).

The registry's data lives in bash (harness-registry.sh). `harness-registry.sh list --json` streams
every field as records `name \\x1f field \\x1f value \\x1e` on stdin and this helper types them:

  json    print {"contract_version": 1, "harnesses": [...]}  (loop_schemas.HarnessRegistry);
          process_names becomes a list, paste_delay a float, verified a bool.
  roster  print `roster --json` ({"contract_version": 1, "harnesses": [...]}, loop_schemas.HarnessRoster);
          present becomes a bool.
  health  print `health --json` ({"contract_version": 1, "harness": ..., "health": ...},
          loop_schemas.HarnessHealth).

Python code elsewhere may `import registry` and call load(lib_dir) for the parsed registry
(it runs `bash harness-registry.sh list --json`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any, Dict, List

CONTRACT_VERSION = 1
FIELDS = (
    "name",
    "binary",
    "kind",
    "launch_cmd",
    "auto_approve_flag",
    "model_flag",
    "oneshot_template",
    "idle_pattern",
    "busy_pattern",
    "approval_pattern",
    "welcome_pattern",
    "error_pattern",
    "process_names",
    "paste_delay",
    "clear_cmd",
    "clear_input_keys",
    "input_pattern",
    "verified",
    "notes",
    "working_marker",
    "idle_marker",
    "expected_process",
    "paste_enter_delay",
    "skill_dir",
    "non_interactive_flag",
    "capability_tags",
    "cost_tier",
    "autonomy_class",
    "auth_requirement",
    "health_probe",
    "drift_pins",
    "model_failover",
    "isolation",
)
# `roster --json`: each harness's entry, in this order (loop_schemas.HarnessRoster).
ROSTER_FIELDS = (
    "name",
    "present",
    "capability_tags",
    "cost_tier",
    "autonomy_class",
    "auth_requirement",
    "health_probe",
    "drift_pins",
    "oneshot_template",
    "model_failover",
    "isolation",
    "kind",
)
HEALTH_WORDS = ("ok", "missing", "unauthenticated", "unhealthy")


class RegistryError(Exception):
    """A one-line registry error."""


def _grouped(data: str) -> "tuple[List[str], Dict[str, Dict[str, str]]]":
    """The records' names in order of first appearance, and each name's {field: value}."""
    order: List[str] = []
    raw: Dict[str, Dict[str, str]] = {}
    for record in data.split("\x1e"):
        if not record:
            continue
        parts = record.split("\x1f")
        if len(parts) != 3:
            raise RegistryError(f"malformed registry record: {record[:60]!r}")
        name, field, value = parts
        if name not in raw:
            raw[name] = {}
            order.append(name)
        raw[name][field] = value
    return order, raw


def _need(name: str, fields: Dict[str, str], wanted: "tuple[str, ...]") -> None:
    missing = [f for f in wanted if f not in fields]
    if missing:
        raise RegistryError(f"harness {name}: missing fields {', '.join(missing)}")


def parse_records(data: str) -> List[Dict[str, Any]]:
    """Typed harness entries, in the order their names first appear."""
    order, raw = _grouped(data)
    out: List[Dict[str, Any]] = []
    for name in order:
        fields = raw[name]
        _need(name, fields, FIELDS)
        entry: Dict[str, Any] = {}
        for field in FIELDS:
            value = fields[field]
            if field == "process_names":
                entry[field] = value.split()
            elif field in ("paste_delay", "paste_enter_delay"):
                try:
                    entry[field] = float(value)
                except ValueError:
                    raise RegistryError(f"harness {name}: paste_delay {value!r} is not a number") from None
            elif field == "verified":
                entry[field] = value == "true"
            else:
                entry[field] = value
        out.append(entry)
    return out


def roster_records(data: str) -> List[Dict[str, Any]]:
    """`roster --json` entries: present becomes a bool, every other field stays a string."""
    order, raw = _grouped(data)
    out: List[Dict[str, Any]] = []
    for name in order:
        fields = raw[name]
        _need(name, fields, ROSTER_FIELDS)
        entry: Dict[str, Any] = {f: fields[f] for f in ROSTER_FIELDS}
        entry["present"] = fields["present"] == "true"
        out.append(entry)
    return out


def health_record(data: str) -> Dict[str, Any]:
    """`health --json`: {contract_version, harness, health}."""
    order, raw = _grouped(data)
    if len(order) != 1:
        raise RegistryError("health: expected one harness")
    fields = raw[order[0]]
    _need(order[0], fields, ("harness", "health"))
    if fields["health"] not in HEALTH_WORDS:
        raise RegistryError(f"health: unexpected word {fields['health']!r}")
    return {"contract_version": CONTRACT_VERSION, "harness": fields["harness"], "health": fields["health"]}


def document(harnesses: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {"contract_version": CONTRACT_VERSION, "harnesses": harnesses}


def load(lib_dir: str) -> Dict[str, Dict[str, Any]]:
    """{name: entry}, read through `bash <lib_dir>/harness-registry.sh list --json`."""
    script = os.path.join(lib_dir, "harness-registry.sh")
    try:
        proc = subprocess.run(["bash", script, "list", "--json"], capture_output=True, check=False)
    except OSError as exc:
        raise RegistryError(f"cannot run the harness registry: {exc}") from None
    if proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RegistryError("harness registry failed: " + (msg[-1] if msg else f"exit {proc.returncode}"))
    try:
        doc = json.loads(proc.stdout.decode("utf-8"))
        return {str(h["name"]): h for h in doc["harnesses"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise RegistryError(f"harness registry printed bad JSON: {exc}") from None


def main(argv: List[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(__doc__ or "")
        return 0 if argv else 2
    if len(argv) != 1 or argv[0] not in ("json", "roster", "health"):
        sys.stderr.write("registry.py: usage: registry.py json|roster|health  (records on stdin)\n")
        return 2
    try:
        data = sys.stdin.buffer.read().decode("utf-8")
        if argv[0] == "json":
            doc = document(parse_records(data))
        elif argv[0] == "roster":
            doc = document(roster_records(data))
        else:
            doc = health_record(data)
    except (RegistryError, UnicodeDecodeError) as exc:
        sys.stderr.write(f"harness-registry: {exc}\n")
        return 1
    sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
