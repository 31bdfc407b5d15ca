"""Validates every event of a scimd's feed against docs/events.schema.json with the reference
`jsonschema` validator (draft 2020-12, formats checked). Run after scim2-tester has created,
replaced, patched and deleted users and groups, so every kind of change it makes is covered.
Usage: validate_events.py BASE_URL EVENTS_TOKEN   (BASE_URL: http://host:port)"""
import json
import pathlib
import sys
import urllib.request

import jsonschema

ROOT = pathlib.Path(__file__).resolve().parents[2]


def main():
    base, token = sys.argv[1], sys.argv[2]
    schema = json.loads((ROOT / "docs" / "events.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    after, seen, types, failures = 0, 0, set(), 0
    while True:
        req = urllib.request.Request(f"{base}/events?after={after}&limit=1000",
                                     headers={"Authorization": f"Bearer {token}"})
        page = json.loads(urllib.request.urlopen(req).read())
        for event in page["events"]:
            seen += 1
            types.add(event.get("type"))
            for error in validator.iter_errors(event):
                failures += 1
                print(f"event {event.get('seq')}: {error.message} at {list(error.absolute_path)}")
        after = page["next_after"]
        if not page["has_more"]:
            break
    print(f"{seen} events validated against docs/events.schema.json; types seen: {sorted(types)}")
    if seen == 0:
        print("no events: the conformance run made no changes?")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
