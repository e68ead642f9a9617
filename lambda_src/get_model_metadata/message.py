"""One SNS message per notified event: a short subject, a plain-text body, filterable attributes.

SNS limits: subject < 100 ASCII characters without line breaks; message plus attributes
<= 262,144 bytes. The body is truncated with a visible marker, never rejected.

Chat channels (Amazon Q Developer in chat applications, formerly AWS Chatbot, subscribed over HTTPS) drop any message
outside their custom-notification schema ("Custom notifications using Amazon Q Developer in chat applications":
version "1.0", source "custom", content title/description), so the message is published with a per-protocol
structure: e-mail and every other protocol get the plain text ("default"), HTTPS subscribers that schema.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from urllib.parse import quote

from .event import ModelEvent
from .report import Report

SUBJECT_MAX = 99
SNS_MAX_BYTES = 262_144
# Headroom for the attributes and SNS's own envelope; the body gets the rest.
BODY_MAX_BYTES = SNS_MAX_BYTES - 4_096
TRUNCATION_MARKER = "\n\n[... message truncated: {omitted} bytes omitted to stay under the SNS size limit ...]\n"
FIELD_MAX_CHARS = 4_000  # one free-text field (a description) cannot crowd out the rest
CHAT_MAX_CHARS = 3_000  # a chat message's text: Slack's limit for one text block; the whole body stays in e-mail

CONSOLE_HOSTS = {"aws": "console.aws.amazon.com", "aws-cn": "console.amazonaws.cn", "aws-us-gov": "console.amazonaws-us-gov.com"}


@dataclass(frozen=True)
class Message:
    subject: str
    body: str
    attributes: dict

    def chat(self) -> dict:
        text = self.body if len(self.body) <= CHAT_MAX_CHARS else self.body[: CHAT_MAX_CHARS - 40] + "\n[... the e-mail has the rest]"
        return {"version": "1.0", "source": "custom",
                "content": {"textType": "client-markdown", "title": self.subject, "description": text}}

    def structured(self) -> str:
        """The per-protocol message, within SNS's limit: JSON escaping can grow the body, so it is cut to fit."""
        chat = json.dumps(self.chat(), ensure_ascii=False)
        limit = BODY_MAX_BYTES
        while True:  # shrinks in proportion to the escaping's growth; 1 KiB escaped six-fold always fits
            text = json.dumps({"default": truncate(self.body, limit), "https": chat}, ensure_ascii=False)
            size = len(text.encode("utf-8"))
            if size <= BODY_MAX_BYTES or limit == 1024:
                return text
            limit = max(1024, min(limit - 1, limit * BODY_MAX_BYTES // size))

    def publish_kwargs(self, topic_arn: str) -> dict:
        return {"TopicArn": topic_arn, "Subject": self.subject, "MessageStructure": "json", "Message": self.structured(),
                "MessageAttributes": self.attributes}


def subject(event: ModelEvent) -> str:
    text = f"[SageMaker] {event.group} v{event.version} {event.status}"
    text = "".join(c if 32 <= ord(c) < 127 else "?" for c in text)
    return text if len(text) <= SUBJECT_MAX else text[: SUBJECT_MAX - 3] + "..."


def attributes(event: ModelEvent) -> dict:
    """For subscription filter policies, e.g. {"ModelApprovalStatus": ["Approved"]}."""
    return {
        "ModelApprovalStatus": {"DataType": "String", "StringValue": event.status[:256]},
        "ModelPackageGroupName": {"DataType": "String", "StringValue": event.group[:256]},
        "ModelPackageVersion": {"DataType": "Number", "StringValue": str(event.version)},
    }


def console_url(event: ModelEvent) -> str:
    """Region- and partition-aware console address of the model version."""
    host = CONSOLE_HOSTS.get(event.partition, CONSOLE_HOSTS["aws"])
    if event.partition == "aws" and event.region:
        host = f"{event.region}.{host}"
    return (f"https://{host}/sagemaker/home?region={quote(event.region, errors='replace')}"
            f"#/model-registry/{quote(event.group, safe='')}/versions/{event.version}")


def timestamp(value) -> str:
    """Events carry epoch milliseconds as strings; describe returns datetimes."""
    if value in (None, ""):
        return ""
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    else:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return _clip(str(value), 100)
        try:
            moment = dt.datetime.fromtimestamp(number / 1000 if number > 1e11 else number, tz=dt.timezone.utc)
        except (OverflowError, ValueError, OSError):  # NaN, Infinity, 1e300: not a time, show it as given
            return _clip(str(value), 100)
    try:
        return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except OverflowError:  # year 1 with a positive offset falls before datetime.min in UTC
        return _clip(str(value), 100)


def _same_time(event_time, described_time) -> bool:
    """Whether describe's LastModifiedTime is the event's change (either missing: nothing says otherwise)."""
    if not event_time or not described_time:
        return True
    as_time = [_iso_to_datetime(v) if isinstance(v, str) and not v.isdigit() else v for v in (event_time, described_time)]
    return timestamp(as_time[0]) == timestamp(as_time[1])


def _clip(text: str, limit: int = FIELD_MAX_CHARS) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit] + f" [... {len(text) - limit} characters omitted]"


def who(user_context) -> str:
    """A person-readable name from a SageMaker UserContext (Studio profile, else IAM identity)."""
    if not isinstance(user_context, dict):
        return ""
    profile = user_context.get("UserProfileName")
    identity = user_context.get("IamIdentity") if isinstance(user_context.get("IamIdentity"), dict) else {}
    arn = identity.get("Arn") or user_context.get("UserProfileArn")
    source = identity.get("SourceIdentity")
    parts = [p for p in (profile, arn, f"source identity {source}" if source else "") if p]
    return _clip(" / ".join(str(p) for p in parts), 500)


def _containers(info: dict) -> list[dict]:
    spec = info.get("InferenceSpecification")
    containers = spec.get("Containers") if isinstance(spec, dict) else None
    return [c for c in containers if isinstance(c, dict)] if isinstance(containers, list) else []


def report_uri(info: dict) -> str:
    try:
        uri = info["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    except (KeyError, TypeError):
        return ""
    return uri if isinstance(uri, str) else ""


def body(event: ModelEvent, info: dict, report: Report | None, console: str) -> str:
    """Plain text for an email client. `info` is the event detail overlaid with the describe result."""
    lines = [
        f"Model package {event.group} version {event.version} is now {event.status}.",
        "",
        f"Model group:   {event.group}",
        f"Version:       {event.version}",
        f"Status:        {event.status}",
    ]
    current = info.get("ModelApprovalStatus")
    if current and current != event.status:
        lines.append(f"               (its status has since changed to {current})")
    # Describe tells who made the package's latest change: after a later one (another status, or the same status
    # set again), not who made this change.
    later = (bool(current) and current != event.status) or not _same_time(event.detail.get("LastModifiedTime"),
                                                                            info.get("LastModifiedTime"))
    approver = None if later else who(info.get("LastModifiedBy") or info.get("ModifiedBy"))
    if event.status != "PendingManualApproval":
        lines.append(f"Changed by:    {approver or ('not known: a later change replaced it' if later else 'not recorded')}")
    description = event.detail.get("ApprovalDescription") or (None if later else info.get("ApprovalDescription"))
    lines.append(f"Comment:       {_clip(description) if description else '(none given)'}")
    if info.get("ModelPackageDescription"):
        lines.append(f"Description:   {_clip(info['ModelPackageDescription'])}")
    creator = who(info.get("CreatedBy"))
    if creator:
        lines.append(f"Registered by: {creator}")

    lines += ["", "Metrics"]
    if report is None:
        lines.append("  No quality report is attached to this model version.")
    elif report.unavailable:
        lines.append(f"  Quality report unavailable: {report.unavailable}.")
        lines.append(f"  Report: {_clip(report.uri, 1024)}")
    else:
        lines += [f"  {line}" for line in report.lines]
        lines.append(f"  Report: {_clip(report.uri, 1024)}")

    lines += ["", "Model"]
    containers = _containers(info)
    for i, container in enumerate(containers[:5], start=1):
        label = f"Container {i}" if len(containers) > 1 else "Container"
        lines.append(f"  {label} image:     {_clip(container.get('Image', 'not recorded'), 1024)}")
        lines.append(f"  {label} artifact:  {_clip(container.get('ModelDataUrl', 'none'), 1024)}")
    if len(containers) > 5:
        lines.append(f"  ... and {len(containers) - 5} more containers")
    if not containers:
        lines.append("  No inference containers recorded.")
    metadata = info.get("MetadataProperties") if isinstance(info.get("MetadataProperties"), dict) else {}
    lines.append(f"  Produced by:         {_clip(metadata.get('GeneratedBy') or 'not recorded', 1024)}")

    lines += [
        "",
        "Timestamps",
        f"  Registered:     {timestamp(info.get('CreationTime')) or 'not recorded'}",
        f"  Last modified:  {timestamp(info.get('LastModifiedTime')) or 'not recorded'}",
        f"  Event time:     {timestamp(_iso_to_datetime(event.time)) or 'not recorded'}",
        "",
        f"Open in the console: {console}",
        f"Model package ARN:   {event.arn}",
        "",
        "You receive this because your address is subscribed to this environment's model approval topic.",
    ]
    return "\n".join(str(line) for line in lines) + "\n"


def _iso_to_datetime(text: str):
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text


def truncate(text: str, max_bytes: int = BODY_MAX_BYTES) -> str:
    """Cut at a UTF-8 character boundary and say how much was cut."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    marker_room = len(TRUNCATION_MARKER.format(omitted=len(data)).encode("utf-8"))
    kept = data[: max_bytes - marker_room].decode("utf-8", errors="ignore")
    omitted = len(data) - len(kept.encode("utf-8"))
    return kept + TRUNCATION_MARKER.format(omitted=omitted)


def utf8(text: str) -> str:
    """Lone surrogates (from JSON escapes like "\\ud800") become "?": UTF-8, and so SNS, cannot carry them."""
    return text.encode("utf-8", errors="replace").decode("utf-8")


def build(event: ModelEvent, info: dict, report: Report | None) -> Message:
    return Message(subject(event), truncate(utf8(body(event, info, report, console_url(event)))), attributes(event))
