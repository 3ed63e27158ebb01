"""Reads our public topics the way the tutorial's dashboard (streamlit-app.py) does, with the tutorial's
pinned client, kafka-python 2.0.2, and nothing optional installed (no snappy, lz4 or zstd library):

  - for each of aggregated_votes_per_candidate and aggregated_turnout_by_location, a KafkaConsumer from the
    earliest offset with default isolation and a JSON value deserializer, and ONE poll() of at most 500
    records (max_poll_records' default);
  - the last value seen per candidate and per state;
  - the leading candidate's photo fetched from its photo_url, as st.image(photo_url) does.

Usage: dashboard.py BOOTSTRAP TOPIC_PREFIX. Prints one JSON object: {"candidates": {id: total_votes},
"states": {state: count}, "photo": {"url", "status", "content_type", "bytes"}}. Any error (a record that does
not decode, a codec that is missing) ends it with a traceback and a non-zero exit, as it ended the dashboard.
"""
import json
import sys
import urllib.request

from kafka import KafkaConsumer


def fetch(bootstrap, topic):
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        value_deserializer=lambda x: json.loads(x.decode("utf-8")),
    )
    # The dashboard polls once; a first poll can come back empty while the client is still connecting,
    # which the dashboard would show as "no data" and the next refresh would fix: wait for the first
    # non-empty poll, and take that one only.
    data = []
    for _ in range(30):
        messages = consumer.poll(timeout_ms=1000)
        if messages:
            for records in messages.values():
                data.extend(r.value for r in records)
            break
    consumer.close()
    return data


def main():
    bootstrap, prefix = sys.argv[1], sys.argv[2]
    candidates, states = {}, {}
    for row in fetch(bootstrap, prefix + "aggregated_votes_per_candidate"):
        candidates[row["candidate_id"]] = row
    for row in fetch(bootstrap, prefix + "aggregated_turnout_by_location"):
        states[row["state"]] = row
    out = {
        "candidates": {k: v["total_votes"] for k, v in candidates.items()},
        "states": {k: v["count"] for k, v in states.items()},
        "photo": None,
    }
    if candidates:
        leader = max(candidates.values(), key=lambda c: c["total_votes"])
        with urllib.request.urlopen(leader["photo_url"], timeout=10) as resp:
            body = resp.read()
            out["photo"] = {"url": leader["photo_url"], "status": resp.status,
                            "content_type": resp.headers.get("Content-Type", ""), "bytes": len(body)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
