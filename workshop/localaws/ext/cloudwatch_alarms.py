"""CloudWatch alarms that are evaluated, change state and run their actions.

In moto 5.2.5 (pinned in constraints.txt) an alarm sits in `OK` forever: nothing evaluates
it when data arrives and its actions never run, so Auto Scaling never reacts. Here, as on
AWS (CloudWatch User Guide, "Using Amazon CloudWatch alarms" and "Alarm evaluation"):

- a new alarm starts in `INSUFFICIENT_DATA` (re-putting an alarm keeps its state);
- after every `PutMetricData`, each alarm on a metric is evaluated over its last
  `EvaluationPeriods` periods of `Period` seconds: `ALARM` when at least `DatapointsToAlarm`
  of the periods that have data breach the threshold, `OK` otherwise, `INSUFFICIENT_DATA`
  with no data in the window (TreatMissingData "missing"). Time is the metric's own clock
  (the newest datapoint's timestamp), so data published for a simulated day with past
  timestamps is evaluated as it would have been live; alarms on the data plane's own live
  metrics (`AWS/EC2`, `TIME_SCALES`) run 90x faster: a 60 s period lasts 2/3 s;
- on a state change the state's actions run; an Auto Scaling policy action also runs once
  per period while the alarm stays in that state (AWS: "for Auto Scaling actions, the alarm
  continues to invoke the action once per minute that the alarm remains in the new state");
- `SetAlarmState` runs the new state's actions too (AWS does; handy for tests and demos).

Scaling-policy actions are executed by `autoscaling.execute_policy_arn` (same process).

`DescribeAlarmHistory` (moto lacks it) answers from what this evaluation did, shaped as AWS
records it ("Viewing alarm history", CloudWatch User Guide): a `StateUpdate` item per state
change ("Alarm updated from OK to ALARM", HistoryData `{"version": "1.0", "oldState": {...},
"newState": {...}}` with each state's reason and reason data) and an `Action` item per action
run ("Successfully executed action arn:...", HistoryData `{"actionState": "Succeeded", ...}`).
It is a method on moto's CloudWatchResponse, so moto's serializer answers in the protocol the
request came in (boto3 1.44 speaks JSON to CloudWatch, older clients query/XML).
ConfigurationUpdate items (alarm created/updated) are not recorded.
"""

from __future__ import annotations

import bisect
import json
import threading
from datetime import datetime, timedelta, timezone

from moto.cloudwatch import models as cwm

from . import autoscaling

_LOCK = threading.RLock()
_ORIGINAL: dict = {}
#: namespace -> how many times faster than on AWS alarms on its metrics run: the data plane's live
#: metrics (ec2_web registers AWS/EC2 with `_instance_metrics.TIME_SCALE`, 90), so a 60 s period
#: is 2/3 s of wall time and a target-tracking policy reacts to traffic in seconds
TIME_SCALES: dict[str, float] = {}


def period_of(alarm) -> timedelta:
    """The alarm's period on the wall clock: its Period, divided by its namespace's time scale."""
    return timedelta(seconds=int(alarm.period or 60) / TIME_SCALES.get(alarm.namespace, 1))

_COMPARE = {
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}
_WORDS = {
    "GreaterThanThreshold": "greater than", "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "LessThanThreshold": "less than", "LessThanOrEqualToThreshold": "less than or equal to",
}


def _utc(ts) -> datetime:
    if isinstance(ts, str):
        from dateutil import parser

        ts = parser.isoparse(ts)
    if isinstance(ts, (int, float)):
        return datetime.fromtimestamp(ts, tz=timezone.utc)
    return ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)


def _dims(dimensions) -> frozenset:
    return frozenset((d.name, d.value) for d in dimensions)


class _Index:
    """Each metric's datapoints sorted by time, kept up to date as moto appends to its list."""

    def __init__(self, data: list):
        self.data, self.seen, self.series = data, 0, {}

    def update(self) -> dict:
        """Index the datapoints added since the last call; metric key -> newest new timestamp."""
        touched: dict = {}
        for d in self.data[self.seen:]:
            key, when = (d.namespace, d.name, _dims(d.dimensions)), _utc(d.timestamp)
            bisect.insort(self.series.setdefault(key, []), (when, self.seen, d))
            touched[key] = max(touched.get(key, when), when)
            self.seen += 1
        return touched


_INDEXES: dict[int, _Index] = {}


def _index(backend) -> _Index:
    index = _INDEXES.get(id(backend))
    if index is None or index.data is not backend.metric_data or index.seen > len(backend.metric_data):
        index = _INDEXES[id(backend)] = _Index(backend.metric_data)
    return index


def _key(alarm) -> tuple:
    return (alarm.namespace, alarm.metric_name, _dims(alarm.dimensions))


def _statistic(data: list, statistic: str) -> float:
    values, count, total, lo, hi = [], 0.0, 0.0, None, None
    for d in data:
        if isinstance(d, cwm.MetricAggregatedDatum):
            count += d.sample_count
            total += d.sum
            lo = d.min if lo is None else min(lo, d.min)
            hi = d.max if hi is None else max(hi, d.max)
        else:
            values.append(d.value)
            count += 1
            total += d.value
            lo = d.value if lo is None else min(lo, d.value)
            hi = d.value if hi is None else max(hi, d.value)
    return {"Average": total / count if count else 0.0, "Sum": total, "SampleCount": count,
            "Minimum": lo or 0.0, "Maximum": hi or 0.0}.get(statistic, total / count if count else 0.0)


def evaluate(backend, alarm, now: datetime | None = None) -> tuple[str, str, dict, float | None, datetime | None]:
    """(state, reason, reason data, newest period's value, metric clock) for one metric alarm.

    `now` is the evaluation time on the metric's clock: the newest datapoint that just
    arrived (default: the newest the metric has). Datapoints after it are not looked at,
    so a day replayed over the same hours is evaluated step by step again.
    """
    index = _index(backend)
    index.update()
    series = index.series.get(_key(alarm)) or []
    if not series or not alarm.metric_name:
        return "INSUFFICIENT_DATA", "Insufficient Data: no datapoints were received for the alarm's window.", {}, None, None
    now = now or series[-1][0]
    period = period_of(alarm)
    periods = int(alarm.evaluation_periods or 1)
    needed = int(alarm.datapoints_to_alarm or periods)
    first = bisect.bisect_right(series, (now - periods * period, float("inf")))
    last = bisect.bisect_right(series, (now, float("inf")))
    per_bucket: dict[int, list] = {}
    for t, _, d in series[first:last]:
        per_bucket.setdefault(int((now - t) / period), []).append(d)
    buckets: list[tuple[datetime, float]] = [(now - k * period, _statistic(per_bucket[k], alarm.statistic or "Average"))
                                             for k in sorted(per_bucket) if k < periods]
    compare = _COMPARE.get(alarm.comparison_operator, _COMPARE["GreaterThanThreshold"])
    breaching = [(t, v) for t, v in buckets if compare(v, float(alarm.threshold))]
    shown = ", ".join(f"{v:g} ({t:%d/%m/%y %H:%M:%S})" for t, v in buckets[:needed])
    word = _WORDS.get(alarm.comparison_operator, "compared with")
    data = {"version": "1.0", "queryDate": now.isoformat(), "statistic": alarm.statistic,
            "period": int(alarm.period or 60), "threshold": float(alarm.threshold),
            "recentDatapoints": [round(v, 4) for _, v in buckets]}
    if len(breaching) >= min(needed, len(buckets)) and breaching:
        reason = (f"Threshold Crossed: {len(breaching)} out of the last {len(buckets)} datapoints [{shown}] "
                  f"were {word} the threshold ({float(alarm.threshold):g}) (minimum {needed} datapoints for OK -> ALARM transition).")
        return "ALARM", reason, data, buckets[0][1], now
    reason = (f"Threshold Crossed: {len(buckets) - len(breaching)} out of the last {len(buckets)} datapoints [{shown}] "
              f"were not {word} the threshold ({float(alarm.threshold):g}) (minimum 1 datapoint for ALARM -> OK transition).")
    return "OK", reason, data, buckets[0][1], now


# --- history -------------------------------------------------------------------------------

_HISTORY = "_workshop_alarm_history"
#: AWS keeps alarm history for two weeks; here, the newest items per region
HISTORY_LIMIT = 10_000


def _history(account_id: str, region: str) -> list[dict]:
    backend = cwm.cloudwatch_backends[account_id][region]
    return backend.__dict__.setdefault(_HISTORY, [])


def _where(alarm) -> tuple[str, str]:
    return alarm.alarm_arn.split(":")[4], alarm.region_name


def _millis(when: datetime) -> int:
    return int(_utc(when).timestamp() * 1000)


def _record(alarm, kind: str, summary: str, data: dict) -> None:
    history = _history(*_where(alarm))
    with _LOCK:
        history.append({"AlarmName": alarm.name, "AlarmType": "CompositeAlarm" if alarm.rule else "MetricAlarm",
                        "Timestamp": datetime.now(timezone.utc), "HistoryItemType": kind,
                        "HistorySummary": summary, "HistoryData": json.dumps(data)})
        del history[:-HISTORY_LIMIT]


def _state(value, reason, reason_data) -> dict:
    state = {"stateValue": value, "stateReason": reason}
    try:
        parsed = json.loads(reason_data) if reason_data else None
    except ValueError:
        parsed = None
    if parsed:
        state["stateReasonData"] = parsed
    return state


def _update_state(original):
    """moto's Alarm.update_state, recording the change as AWS's history does."""

    def update_state(self, reason, reason_data, state_value):
        old = _state(self.state_value, self.state_reason, self.state_reason_data)
        original(self, reason, reason_data, state_value)
        _record(self, "StateUpdate", f"Alarm updated from {old['stateValue']} to {state_value}",
                {"version": "1.0", "oldState": old, "newState": _state(state_value, reason, reason_data)})

    return update_state


def describe_alarm_history(self):
    """DescribeAlarmHistory (a method of moto's CloudWatchResponse): the kit's recorded items, filtered and paged."""
    from moto.core.responses import ActionResult

    name = self._get_param("AlarmName")
    kind = self._get_param("HistoryItemType")
    types = self._get_param("AlarmTypes") or ["MetricAlarm", "CompositeAlarm"]
    start, end = self._get_param("StartDate"), self._get_param("EndDate")
    limit = int(self._get_param("MaxRecords") or 100)
    offset = int(self._get_param("NextToken") or 0)
    items = [item for item in _history(self.current_account, self.region)
             if (not name or item["AlarmName"] == name) and (not kind or item["HistoryItemType"] == kind)
             and item["AlarmType"] in types and (not start or item["Timestamp"] >= _utc(start))
             and (not end or item["Timestamp"] <= _utc(end))]
    if (self._get_param("ScanBy") or "TimestampDescending") == "TimestampDescending":
        items.reverse()
    result: dict = {"AlarmHistoryItems": items[offset:offset + limit]}
    if offset + limit < len(items):
        result["NextToken"] = str(offset + limit)
    return ActionResult(result)


def _run_actions(account_id: str, region: str, alarm, value: float | None, now: datetime | None, changed: bool) -> None:
    if not alarm.actions_enabled:
        return
    actions = {"ALARM": alarm.alarm_actions, "OK": alarm.ok_actions,
               "INSUFFICIENT_DATA": alarm.insufficient_data_actions}.get(alarm.state_value) or []
    clock = now or datetime.now(timezone.utc)
    for arn in actions:
        if ":autoscaling:" not in arn or ":scalingPolicy:" not in arn:
            continue  # SNS, EC2 actions: not simulated locally
        last = alarm.__dict__.get("_workshop_last_action")
        if not changed and last is not None and timedelta(0) <= clock - last < period_of(alarm):
            continue  # Auto Scaling actions repeat once per period while the alarm stays in state
        updated = _millis(alarm.state_updated_timestamp or clock)
        try:
            autoscaling.execute_policy_arn(account_id, region, arn, alarm.name, alarm.state_value, value, clock)
        except Exception as exc:
            _record(alarm, "Action", f"Failed to execute action {arn}",
                    {"actionState": "Failed", "notificationResource": arn, "stateUpdateTimestamp": updated,
                     "error": str(exc)})
            raise
        _record(alarm, "Action", f"Successfully executed action {arn}",
                {"actionState": "Succeeded", "notificationResource": arn, "stateUpdateTimestamp": updated})
        alarm._workshop_last_action = clock


def evaluate_all(account_id: str, region: str, backend, only_new_data: bool = False) -> None:
    """Evaluate the metric alarms of a backend (those on metrics that just got data, if
    `only_new_data`); change states and run actions."""
    with _LOCK:
        touched = _index(backend).update()
        for alarm in list(backend.alarms.values()):
            if alarm.rule or alarm.metric_data_queries:
                continue  # composite and metric-math alarms: not evaluated locally
            if only_new_data and _key(alarm) not in touched:
                continue
            state, reason, data, value, now = evaluate(backend, alarm, touched.get(_key(alarm)))
            if state == "INSUFFICIENT_DATA" and alarm.state_value == "INSUFFICIENT_DATA":
                continue
            changed = state != alarm.state_value
            if changed:
                alarm.update_state(reason, json.dumps(data), state)
            elif alarm.state_value == "ALARM" and now is not None:
                alarm.state_reason, alarm.state_reason_data = reason, json.dumps(data)
            _run_actions(account_id, region, alarm, value, now, changed)


def _region_of(request) -> str | None:
    from ..server import signed_scope

    return signed_scope(request).region


def _is(request, operation: str) -> bool:
    from ..server import aws_action

    return aws_action(request) == operation or request.path.rstrip("/").endswith(f"/operation/{operation}")


def _after_put_metric_data(request, response) -> None:
    if response.status_code >= 400:
        return
    region = _region_of(request)
    for account_id, backend_region, backend in cwm.cloudwatch_backends.iter_backends():
        if region is None or backend_region == region:
            evaluate_all(account_id, backend_region, backend, only_new_data=True)


def _after_put_metric_alarm(request, response) -> None:
    if response.status_code >= 400:
        return
    region = _region_of(request)
    for account_id, backend_region, backend in cwm.cloudwatch_backends.iter_backends():
        if region is None or backend_region == region:
            evaluate_all(account_id, backend_region, backend)


def _after_set_alarm_state(request, response) -> None:
    if response.status_code >= 400:
        return
    region = _region_of(request)
    with _LOCK:
        for account_id, backend_region, backend in cwm.cloudwatch_backends.iter_backends():
            if region is not None and backend_region != region:
                continue
            for alarm in backend.alarms.values():
                history = alarm.history
                if history and history[-1][0] == "StateUpdate" and not alarm.__dict__.get("_workshop_seen_set") == len(history):
                    alarm._workshop_seen_set = len(history)
                    if history[-1][3] != alarm.state_value:
                        _run_actions(account_id, backend_region, alarm, None, None, True)


def _put_metric_alarm(self, name, *args, **kwargs):
    """AWS: a new alarm starts INSUFFICIENT_DATA; updating an alarm keeps its state and history."""
    with _LOCK:
        previous = self.alarms.get(name)
        alarm = _ORIGINAL["put_metric_alarm"](self, name, *args, **kwargs)
        if previous is None:
            alarm.state_value = "INSUFFICIENT_DATA"
            alarm.state_reason = "Unchecked: Initial alarm creation"
        else:
            alarm.state_value, alarm.state_reason = previous.state_value, previous.state_reason
            alarm.state_reason_data, alarm.history = previous.state_reason_data, previous.history
            alarm.state_updated_timestamp = previous.state_updated_timestamp
            if "_workshop_last_action" in previous.__dict__:
                alarm._workshop_last_action = previous._workshop_last_action
        alarm._workshop_seen_set = len(alarm.history)
        return alarm


def patches(moto) -> None:
    """Called once per process by the server, after its moto version check."""
    from moto.cloudwatch.responses import CloudWatchResponse

    _ORIGINAL["put_metric_alarm"] = cwm.CloudWatchBackend.put_metric_alarm
    cwm.CloudWatchBackend.put_metric_alarm = _put_metric_alarm
    cwm.Alarm.update_state = _update_state(cwm.Alarm.update_state)
    CloudWatchResponse.describe_alarm_history = describe_alarm_history


def install(server) -> None:
    server.after(lambda r: _is(r, "PutMetricData"), _after_put_metric_data)
    server.after(lambda r: _is(r, "SetAlarmState"), _after_set_alarm_state)
    server.after(lambda r: _is(r, "PutMetricAlarm"), _after_put_metric_alarm)  # evaluate against data already there
