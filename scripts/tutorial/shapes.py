"""Reads votes_topic, voters_topic and both aggregated topics with confluent-kafka at its default settings,
and checks every record's JSON, field by field, against the shapes the tutorial's programs read and write.

Usage: shapes.py BOOTSTRAP TOPIC_PREFIX. Prints {"records": {topic: n}, "problems": [...]} and exits 1 if
there is any problem.
"""
import json
import re
import sys

from confluent_kafka import Consumer, TopicPartition

TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")

# Field -> type (or nested shape) the tutorial's programs use; extra fields of ours are listed apart.
SHAPES = {
    "voters_topic": {
        "fields": {"voter_id": str, "voter_name": str, "date_of_birth": str, "gender": str, "nationality": str,
                   "registration_number": str, "email": str, "phone_number": str, "cell_number": str,
                   "picture": str, "registered_age": int,
                   "address": {"street": str, "city": str, "state": str, "country": str, "postcode": str}},
        "ours": {"constituency_id"},
    },
    "votes_topic": {
        # The tutorial's vote: the candidate's fields, voting_time and vote (a secret ballot carries no
        # voter identity: of the voter, only address.state, which its Spark job groups turnout by).
        "fields": {"candidate_id": str, "candidate_name": str, "party_affiliation": str, "photo_url": str,
                   "voting_time": str, "vote": int, "address": {"state": str}},
        "ours": {"ballot_id", "constituency_id"},
    },
    "aggregated_votes_per_candidate": {
        "fields": {"candidate_id": str, "candidate_name": str, "party_affiliation": str, "photo_url": str,
                   "total_votes": int},
        "ours": {"constituency_id"},
    },
    "aggregated_turnout_by_location": {
        "fields": {"state": str, "count": int},
        "ours": {"registered", "turnout"},
    },
}


def check(value, shape, where, problems):
    if not isinstance(value, dict):
        problems.append(f"{where}: not a JSON object")
        return
    for field, kind in shape.items():
        if field not in value:
            problems.append(f"{where}: field {field} missing")
        elif isinstance(kind, dict):
            check(value[field], kind, f"{where}.{field}", problems)
        elif not isinstance(value[field], kind) or isinstance(value[field], bool):
            problems.append(f"{where}: field {field} is {type(value[field]).__name__}, want {kind.__name__}")


def read_all(bootstrap, topic):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "shapes-check", "auto.offset.reset": "earliest",
                         "enable.auto.commit": False})
    meta = consumer.list_topics(topic, timeout=10)
    parts = list(meta.topics[topic].partitions)
    ends = {}
    for p in parts:
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        ends[p] = high
    consumer.assign([TopicPartition(topic, p, 0) for p in parts])
    values, done = [], {p for p in parts if ends[p] == 0}
    idle = 0
    # A transactional topic ends on a commit marker, which is no message: stop after 3 s of silence.
    while len(done) < len(parts) and idle < 6:
        msg = consumer.poll(0.5)
        if msg is None:
            idle += 1
            continue
        idle = 0
        if msg.error():
            raise RuntimeError(str(msg.error()))
        values.append(msg.value())
        if msg.offset() + 1 >= ends[msg.partition()]:
            done.add(msg.partition())
    consumer.close()
    return values


def main():
    bootstrap, prefix = sys.argv[1], sys.argv[2]
    problems, counts = [], {}
    for topic, spec in SHAPES.items():
        values = read_all(bootstrap, prefix + topic)
        counts[topic] = len(values)
        if not values:
            problems.append(f"{topic}: no records")
        for i, raw in enumerate(values):
            where = f"{topic}[{i}]"
            try:
                value = json.loads(raw)
            except Exception as e:  # noqa: BLE001 - any failure to decode is the finding
                problems.append(f"{where}: not JSON: {e}")
                continue
            check(value, spec["fields"], where, problems)
            extra = set(value) - set(spec["fields"]) - spec["ours"]
            if extra:
                problems.append(f"{where}: unexpected fields {sorted(extra)}")
            if topic == "votes_topic":
                if value.get("vote") != 1:
                    problems.append(f"{where}: vote is {value.get('vote')!r}, want 1")
                if not TIME.match(str(value.get("voting_time", ""))):
                    problems.append(f"{where}: voting_time {value.get('voting_time')!r} is not YYYY-MM-DD HH:MM:SS")
                for secret in ("voter_id", "voter_name", "email"):
                    if secret in value:
                        problems.append(f"{where}: carries the voter's {secret}")
    print(json.dumps({"records": counts, "problems": problems[:50]}))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
