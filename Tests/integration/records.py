#!/usr/bin/env python3
"""The state store's records file (STATE/records: 4 KiB slots, slot 0 the
header), for tests that inspect or damage it like an editor would.
  records.py count STATE           number of records
  records.py dump STATE DIR        one file per record: DIR/<id> (text), DIR/<id>.slot
  records.py put STATE SLOT FILE   FILE's bytes, zero-padded, into SLOT"""
import os, sys

SLOT = 4096

def slots(state):
    with open(os.path.join(state, "records"), "rb") as f:
        data = f.read()
    for i in range(1, (len(data) + SLOT - 1) // SLOT):
        text = data[i * SLOT:(i + 1) * SLOT].split(b"\0", 1)[0]
        if text:
            yield i, text

def record_id(text):
    for line in text.decode(errors="replace").splitlines():
        if line.startswith("id: "):
            return line[4:]
    return "unknown"

cmd, state = sys.argv[1], sys.argv[2]
if cmd == "count":
    print(sum(1 for _ in slots(state)))
elif cmd == "dump":
    out = sys.argv[3]
    os.makedirs(out, exist_ok=True)
    for i, text in slots(state):
        rid = record_id(text)
        with open(os.path.join(out, rid), "wb") as f:
            f.write(text)
        with open(os.path.join(out, rid + ".slot"), "w") as f:
            f.write(str(i))
elif cmd == "put":
    slot = int(sys.argv[3])
    with open(sys.argv[4], "rb") as f:
        text = f.read()
    assert len(text) < SLOT
    with open(os.path.join(state, "records"), "r+b") as f:
        f.seek(slot * SLOT)
        f.write(text + b"\0" * (SLOT - len(text)))
else:
    sys.exit(__doc__)
