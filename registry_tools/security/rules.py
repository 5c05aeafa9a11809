"""The security rules (E91xx/W91xx), one set for the validator, the client and the diff.

``check_template(template)`` judges the *effective* configuration of a
CloudFormation template (``effective``): for every instance, the settings that
apply after every place that can set them; for every bucket, security group
and IAM policy likewise. A value the template does not fix (a parameter
without ``AllowedValues``, an import, a launch template defined elsewhere) is
judged as if it were the weakest it could be, and the finding says so
(``conservative``). ``RULES`` names every rule, its severity and its fix (the
ids ``--allow-insecure`` takes).

What the rules require where AWS has a default:

- IMDS: ``HttpTokens: required`` (or ``HttpEndpoint: disabled``) wherever the
  instance's metadata options come from. EC2 falls back to ``optional``
  unless the AMI declares ``ImdsSupport: v2.0`` or the account default
  requires tokens; neither is in the template, so "not set" fails.
- EBS: ``Encrypted: true`` on every volume and mapping, and a mapping for the
  root device (``/dev/xvda`` or ``/dev/sda1``): without one the root volume
  is the AMI's snapshot, encrypted only when the account turns on EBS
  encryption by default, which the template cannot see.
- S3: since January 2023 S3 encrypts every new object with SSE-S3, and since
  April 2023 new buckets block public access and disable ACLs unless told
  otherwise. E9104 and E9105 still require the template to *state* the
  encryption and all four public access block settings: an undeclared
  setting has nothing for a review or ``config diff`` to compare, and an
  explicit ``false`` is how a template opens a bucket. ACLs left at the
  default (``BucketOwnerEnforced``) are fine.

Pure: no I/O, no cfn-lint, standard library only.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any

from registry_tools.security.effective import (
    BUCKET,
    BUCKET_POLICY,
    LAUNCH_CONFIGURATION,
    LAUNCH_TEMPLATE,
    MISSING,
    VOLUME,
    Alt,
    Launch,
    Layer,
    Path,
    ResourceRef,
    Setting,
    SsmParameter,
    TemplateView,
    Text,
    Unknown,
    block_devices,
    bucket_of,
    glob_matches,
    identity_policies,
    image_ids,
    ingress_rules,
    is_true,
    launch_settings,
    launches,
    managed_policy_arns,
    metadata_option,
    pattern_of,
    prefix_list_cidrs,
    show,
    statements,
    trust_policies,
    walk_strings,
)

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class RuleInfo:
    id: str
    title: str
    severity: str
    fix: str
    description: str


@dataclass(frozen=True)
class SecurityFinding:
    """One weakness: which rule, how bad, in which resource, where in the template (``path``, keys
    and list indexes from the top, for line numbers), what is wrong and where it hides, and what to
    change. ``conservative``: judged from a value the template does not fix."""

    rule: str
    severity: str
    resource: str
    path: tuple[str | int, ...]
    message: str
    fix: str
    conservative: bool = False

    def __str__(self) -> str:
        return f"[{self.rule}] {self.resource}: {self.message} (fix: {self.fix})"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = list(self.path)
        return data


def _rule(rule_id: str, title: str, fix: str, description: str) -> tuple[str, RuleInfo]:
    return rule_id, RuleInfo(rule_id, title, ERROR if rule_id.startswith("E") else WARNING, fix, description)


RULES: Mapping[str, RuleInfo] = MappingProxyType(dict([
    _rule("E9101", "SSH or RDP open to the internet",
          "remove the rule, or limit its source to a private range or a security group, and connect with SSM Session Manager",
          "No security group rule may let SSH (22) or RDP (3389) in from the whole internet (0.0.0.0/0, ::/0, "
          "rules that add up to it, a prefix list holding it, or a source chosen at deploy time)."),
    _rule("E9102", "IMDSv2 not required",
          "set MetadataOptions.HttpTokens to required in the launch template, and wherever an instance, fleet "
          "override or launch configuration sets MetadataOptions",
          "Every instance must require IMDSv2 tokens, whichever layer its metadata options come from: instance "
          "properties, launch template, launch configuration, Auto Scaling and fleet overrides."),
    _rule("E9103", "Unencrypted EBS storage",
          "set Encrypted: true on every EBS volume and block device mapping, including one for the root device",
          "Every EBS volume and block device mapping must be encrypted, and every instance must map its root "
          "device (otherwise its root volume is the AMI's snapshot, encrypted only by an account default)."),
    _rule("E9104", "S3 bucket without declared encryption",
          "add BucketEncryption with a ServerSideEncryptionByDefault rule (SSEAlgorithm AES256 or aws:kms)",
          "Every bucket must declare its default encryption (S3 would apply SSE-S3 anyway; the pack must say so)."),
    _rule("E9105", "S3 bucket without a full public access block",
          "set BlockPublicAcls, BlockPublicPolicy, IgnorePublicAcls and RestrictPublicBuckets to true",
          "Every bucket must set all four PublicAccessBlockConfiguration settings to true."),
    _rule("E9106", "IAM policy allows every action on every resource",
          "list the actions and resources the role needs",
          "No identity policy may allow every action (\"*\", \"*:*\", NotAction, iam:* which grants the rest) on "
          "every resource (\"*\", NotResource), and no role may carry AdministratorAccess or IAMFullAccess or a "
          "policy whose contents the template does not show."),
    _rule("W9107", "iam:PassRole on any role",
          "name the roles it may pass in Resource",
          "iam:PassRole on any role lets the holder hand any role to a service."),
    _rule("E9108", "Hard-coded AMI id",
          "take the image from an AWS public SSM parameter (type AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>, "
          "default /aws/service/...)",
          "Images must come from an AWS public SSM parameter, never a fixed ami-... id (ids differ per region and go "
          "stale): every ImageId is a parameter of type AWS::SSM::Parameter::Value<...> whose default is under "
          "/aws/service/ (or a {{resolve:ssm:/aws/service/...}} reference), and no ami-... id appears anywhere."),
    _rule("E9109", "S3 bucket policy grants public access",
          "name the principals, or add a condition that limits them (aws:SourceVpce, aws:PrincipalOrgID, aws:SourceArn, ...)",
          "A bucket policy may not allow everyone (Principal \"*\" or NotPrincipal) without a condition that limits who."),
    _rule("E9110", "S3 bucket ACL grants public access",
          "remove AccessControl (or use Private) and keep ACLs disabled (ObjectOwnership BucketOwnerEnforced)",
          "A bucket's canned ACL may not be PublicRead, PublicReadWrite or AuthenticatedRead."),
    _rule("W9111", "S3 ACLs enabled",
          "set OwnershipControls ObjectOwnership to BucketOwnerEnforced (or leave it out: that is the default)",
          "ObjectWriter and BucketOwnerPreferred turn ACLs back on, so objects can be shared one by one."),
    _rule("E9112", "IAM policy allows a whole service on every resource",
          "list the actions it needs and limit Resource to the stack's own resources",
          "No identity policy may allow every action of a service on all its resources (s3:* on *, "
          "AmazonS3FullAccess, PowerUserAccess, ReadOnlyAccess)."),
    _rule("E9113", "IAM role anyone can assume",
          "name the trusted principals (a service, an account) or add a condition that limits them",
          "A role's trust policy may not allow everyone (Principal \"*\" or NotPrincipal) without a limiting condition."),
    _rule("W9114", "Inbound access from the internet",
          "remove the rule or limit its source to a private range or a security group; reach services through "
          "SSM port forwarding",
          "Packs take no inbound traffic from public addresses (any port, any protocol)."),
    _rule("W9115", "IAM policy broader than the stack's own resources",
          "list the actions it needs and limit Resource to the stack's own resources (its bucket, its role)",
          "A least-privilege role names its actions (no whole service, s3:* on its own bucket included) and the "
          "stack's own resources: no statement on resources outside the stack (\"*\", arn:aws:s3:::*, a resource "
          "chosen at deploy time). Reading named public data (arn:aws:s3:::some-dataset/*) is fine."),
]))


class _Findings:
    def __init__(self) -> None:
        self._items: dict[tuple[str, tuple[str, ...], str], SecurityFinding] = {}

    def add(self, rule: str, resource: str, path: Path, message: str, *, fix: str | None = None,
            conservative: bool = False) -> None:
        info = RULES[rule]
        finding = SecurityFinding(rule, info.severity, resource, tuple(path), message, fix or info.fix, conservative)
        self._items.setdefault((rule, tuple(str(p) for p in path), message), finding)

    def sorted(self) -> list[SecurityFinding]:
        return sorted(self._items.values(), key=lambda f: (f.rule, f.resource, [str(p) for p in f.path], f.message))


def check_template(template: Mapping[str, Any]) -> list[SecurityFinding]:
    """Every security finding of a template (a parsed CloudFormation dict), sorted by rule and resource."""
    view = TemplateView(template)
    findings = _Findings()
    for check in CHECKS:
        check(view, findings)
    return findings.sorted()


def errors(findings: Iterable[SecurityFinding]) -> list[SecurityFinding]:
    return [f for f in findings if f.severity == ERROR]


def _owner(path: Path, fallback: str) -> str:
    return str(path[1]) if len(path) > 1 and path[0] == "Resources" else fallback


def _reasons(notes: Iterable[str]) -> str:
    notes = list(dict.fromkeys(n for n in notes if n))
    return f" ({'; '.join(notes)})" if notes else ""


# --------------------------------------------------------------------------- E9101 / W9114: ingress

ADMIN = (("SSH", "tcp", 22), ("RDP", "tcp", 3389), ("RDP", "udp", 3389))
PORT_NAMES = {22: "SSH", 3389: "RDP", 80: "HTTP", 443: "HTTPS", 2049: "NFS", 5432: "PostgreSQL", 3306: "MySQL",
              8888: "Jupyter", 8787: "RStudio", 5901: "VNC", 8080: "HTTP"}
ALL_PORTS = (0, 65535)


@dataclass(frozen=True)
class _Source:
    shown: str
    world: bool          # the whole internet (or possibly: ``reason`` says why it is unknown)
    public: bool         # reaches public addresses
    network: Any = None  # an ip_network for literal CIDRs
    reason: str = ""     # why it is not known
    path: Path = ()


def _protocols(view: TemplateView, rule: Alt) -> list[tuple[str, str]]:
    """(kind, reason) for each possible protocol: all, tcp, udp or other."""
    if isinstance(rule.value, Unknown):
        return [("all", "")]  # the source says why
    out = []
    for alt in view.get(rule, "IpProtocol"):
        value = alt.value
        if isinstance(value, Unknown | Text) or value is MISSING:
            out.append(("all", f"the protocol is {show(value)}"))
            continue
        text = str(value).lower()
        kind = {"-1": "all", "all": "all", "tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp"}.get(text, "other")
        out.append((kind, ""))
    return out


def _port(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _port_ranges(view: TemplateView, rule: Alt) -> list[tuple[int, int, str]]:
    if isinstance(rule.value, Unknown):
        return [(*ALL_PORTS, "")]
    lows, highs = view.get(rule, "FromPort"), view.get(rule, "ToPort")
    if len(lows) * len(highs) > 64:  # many alternatives: their widest span
        ports = [_port(a.value) for a in lows + highs]
        known = [port for port in ports if port is not None and port >= 0]
        if len(known) == len(ports):
            return [(min(known), max(known), "")]
        return [(*ALL_PORTS, "the ports have many alternatives")]
    out = []
    for low_alt in lows:
        for high_alt in highs:
            low, high = _port(low_alt.value), _port(high_alt.value)
            if low is None or high is None:
                unfixed = list(dict.fromkeys(show(a.value) for a in (low_alt, high_alt)
                                             if a.value is not MISSING and _port(a.value) is None))
                reason = f"the ports come from {' and '.join(unfixed)}" if unfixed else ""
                out.append((*ALL_PORTS, reason))
            elif low == -1 or high == -1:
                out.append((*ALL_PORTS, ""))
            else:
                out.append((low, high, ""))
    return out


def _cidr_source(alt: Alt, where: str = "") -> _Source | None:
    value = alt.value
    if value is MISSING:
        return None
    if isinstance(value, ResourceRef):
        return _Source(f"{value}{where}", False, False, path=alt.path)
    if isinstance(value, Text) and not value.unknowns:
        if "\u27e8" in value.pattern:  # built from a resource attribute (a VPC's or subnet's CIDR)
            return _Source(f"{value.shown}{where}", False, False, path=alt.path)
        return _cidr_source(Alt(value.pattern, alt.path, alt.notes), where)
    if isinstance(value, Unknown | Text):
        pattern, reasons = pattern_of(value) or ("*", ())
        world = glob_matches(pattern, "0.0.0.0/0") or glob_matches(pattern, "::/0")
        reason = f"the source{where} is {'; '.join(reasons) or show(value)}"
        return _Source(f"{show(value)}{where}", world, True, reason=reason if world else "", path=alt.path)
    try:
        network = ipaddress.ip_network(str(value).strip(), strict=False)
    except ValueError:
        return None  # not a CIDR: cfn-lint reports it
    notes = "".join(f", {note}" for note in dict.fromkeys(alt.notes))
    return _Source(f"{value}{where}{notes}", network.prefixlen == 0, not network.is_private, network, path=alt.path)


def _sources(view: TemplateView, rule: Alt) -> list[_Source]:
    if isinstance(rule.value, Unknown):
        return [_Source(show(rule.value), True, True, reason=f"the whole rule is {rule.value.reason}", path=rule.path)]
    out: list[_Source] = []
    for key in ("CidrIp", "CidrIpv6"):
        for alt in view.get(rule, key):
            source = _cidr_source(alt)
            if source is not None:
                out.append(source)
    for alt in view.get(rule, "SourcePrefixListId"):
        if alt.value is MISSING:
            continue
        cidrs = prefix_list_cidrs(view, alt)
        if cidrs is None:
            reason = alt.value.reason if isinstance(alt.value, Unknown) else "defined outside this template"
            out.append(_Source(f"prefix list {show(alt.value)}", False, True,
                               reason=f"its entries cannot be checked: {reason}", path=alt.path))
            continue
        for cidr in cidrs:
            source = _cidr_source(cidr, f" in prefix list {show(alt.value)}")
            if source is not None:
                out.append(_Source(source.shown, source.world, source.public, source.network, source.reason, alt.path))
    return out


def _describe_ports(kind: str, low: int, high: int) -> str:
    if kind == "all":
        return "all traffic"
    if kind == "other":
        return "non-TCP/UDP traffic"
    if (low, high) == ALL_PORTS:
        return f"{kind} all ports"
    if low == high:
        return f"{PORT_NAMES[low]} ({kind} {low})" if low in PORT_NAMES else f"{kind} {low}"
    return f"{kind} {low}-{high}"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _check_ingress(view: TemplateView, out: _Findings) -> None:
    public_by_service: dict[tuple[str, str, int], list[tuple[Any, Any, str]]] = {}
    world_reported: set[tuple[str, str, int]] = set()
    for ingress in ingress_rules(view):
        where = f"{ingress.group}" + (f" (rule {ingress.resource})" if ingress.resource != ingress.group else "")
        protocols = _protocols(view, ingress.rule)
        ranges = _port_ranges(view, ingress.rule)
        opened = [(kind, low, high, protocol_reason, port_reason)
                  for kind, protocol_reason in protocols
                  for low, high, port_reason in (ranges if kind in ("tcp", "udp") else [(*ALL_PORTS, "")])]
        for source in _sources(view, ingress.rule):
            path = ingress.rule.path
            labels: list[str] = []
            allowing: list[str] = []
            reasons: list[str] = [source.reason] if source.reason else []
            for kind, low, high, protocol_reason, port_reason in opened:
                for service, protocol, port in ADMIN:
                    if kind not in ("all", protocol) or not (kind == "all" or low <= port <= high):
                        continue
                    label = f"{service} ({protocol} {port})"
                    if label not in labels:
                        labels.append(label)
                    opening = _describe_ports(kind, low, high)
                    if opening != label and opening not in allowing:
                        allowing.append(opening)
                    reasons += [r for r in (protocol_reason, port_reason) if r and r not in reasons]
                    if not source.world and source.public and source.network is not None:
                        public_by_service.setdefault((ingress.group, label, source.network.version), []).append(
                            (source.network, ingress, label))
            if labels and source.world:
                for label in labels:
                    world_reported.add((ingress.group, label, source.network.version if source.network else 4))
                verb = "is" if len(labels) == 1 else "are"
                through = f", through a rule allowing {_and(allowing)}" if allowing else ""
                if reasons:
                    shown = f" ({source.shown})" if not source.reason else ""
                    out.add("E9101", ingress.resource, path,
                            f"{_and(labels)} may be open to the internet{shown} in {where}{through}: "
                            f"{'; '.join(reasons)}",
                            conservative=True)
                else:
                    out.add("E9101", ingress.resource, path,
                            f"{_and(labels)} {verb} open to the internet ({source.shown}) in {where}{through}")
                continue
            if not source.public:
                continue
            ports = list(dict.fromkeys(_describe_ports(kind, low, high) for kind, low, high, _, _ in opened))
            what = "the internet" if source.world else "public addresses"
            tail = f" ({source.reason})" if source.reason else ""
            out.add("W9114", ingress.resource, path,
                    f"{_and(ports)} {'is' if len(ports) == 1 else 'are'} open to {what} ({source.shown}) in {where}{tail}",
                    conservative=bool(source.reason))
    for (group, label, version), entries in public_by_service.items():
        if (group, label, version) in world_reported:
            continue
        world = ipaddress.ip_network("0.0.0.0/0" if version == 4 else "::/0")
        covered = list(ipaddress.collapse_addresses(n for n, _, _ in entries))
        if covered == [world]:
            first = entries[0][1]
            networks = ", ".join(sorted({str(n) for n, _, _ in entries}))
            out.add("E9101", first.resource, first.rule.path,
                    f"{label} is open to the whole internet in {group}: the sources {networks} of its rules add up to "
                    f"{world}")


@dataclass(frozen=True, order=True)
class Inbound:
    """One inbound permission as the rules read it: ``ports`` in words ("SSH (tcp 22)", "all traffic"),
    from ``source`` (a CIDR, a prefix list's entry, a security group), into ``group``; ``public``
    when it reaches public addresses (then E9101 or W9114 report it)."""

    group: str
    ports: str
    source: str
    public: bool
    resource: str


SOURCE_GROUPS = ("SourceSecurityGroupId", "SourceSecurityGroupName")


def inbound(template: Mapping[str, Any]) -> list[Inbound]:
    """Every inbound permission of a template (inline rules, SecurityGroupIngress resources, prefix
    lists), each alternative apart, read the way E9101 and W9114 read it; sorted, once each."""
    view = TemplateView(template)
    found: set[Inbound] = set()
    for ingress in ingress_rules(view):
        opened = [_describe_ports(kind, low, high)
                  for kind, _ in _protocols(view, ingress.rule)
                  for low, high, _ in (_port_ranges(view, ingress.rule) if kind in ("tcp", "udp") else [(*ALL_PORTS, "")])]
        sources = [(s.shown, s.public) for s in _sources(view, ingress.rule)]
        for key in SOURCE_GROUPS:
            sources += [(f"security group {show(a.value)}", False) for a in view.get(ingress.rule, key)
                        if a.value is not MISSING and not isinstance(ingress.rule.value, Unknown)]
        for ports in dict.fromkeys(opened):
            found.update(Inbound(ingress.group, ports, shown, public, ingress.resource) for shown, public in sources)
    return sorted(found)


# --------------------------------------------------------------------------- E9102: IMDSv2


def _metadata_layers(layers: Iterable[Layer]) -> list[Layer]:
    return [layer for layer in layers if layer.metadata and layer.unknown is None]


def _missing_path(layers: tuple[Layer, ...]) -> Path:
    """Where a missing HttpTokens belongs: the launch template or configuration when there is one."""
    for layer in layers:
        if layer.metadata and layer.unknown is None and layer.settings is not None:
            return layer.path
    return layers[-1].path if layers else ()


def _check_imds(view: TemplateView, out: _Findings) -> None:
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}

    def record(setting: Setting, layers: tuple[Layer, ...], launch: Launch | None) -> None:
        value = setting.value
        if value is MISSING:
            key: tuple[Any, ...] = (_missing_path(layers), "missing")
        elif isinstance(value, Unknown | Text):
            key = (setting.path, "unknown", show(value))
        else:
            key = (setting.path, "value", show(value))
        group = groups.setdefault(key, {"setting": setting, "layers": layers, "launches": []})
        if launch is not None and launch.label not in group["launches"]:
            group["launches"].append(launch.label)

    def judge(layers: tuple[Layer, ...], launch: Launch | None) -> None:
        endpoints = metadata_option(view, layers, "HttpEndpoint")
        if endpoints and all(e.value == "disabled" for e in endpoints):
            return
        for setting in metadata_option(view, layers, "HttpTokens"):
            if setting.value != "required":
                record(setting, layers, launch)

    for own in launch_settings(view):
        if view.type_of(own.resource) in (LAUNCH_TEMPLATE, LAUNCH_CONFIGURATION):
            judge((own,), None)
    for launch in launches(view):
        judge(launch.layers, launch)

    for key, group in groups.items():
        setting: Setting = group["setting"]
        layers: tuple[Layer, ...] = group["layers"]
        path = key[0]
        resource = _owner(path, layers[-1].resource if layers else "")
        layer = setting.layer
        conservative = False
        if key[1] == "missing":
            places = _metadata_layers(layers)
            if not places:
                message = (f"{layers[-1].label} cannot set metadata options, so IMDSv1 stays enabled unless the AMI "
                           "declares ImdsSupport v2.0 or the account default requires tokens; launch it from a launch "
                           "template that sets HttpTokens: required")
            else:
                chain = " or ".join(place.label for place in reversed(places))
                message = (f"HttpTokens is not set in {chain}: EC2 then leaves IMDSv1 on unless the AMI declares "
                           f"ImdsSupport v2.0 or the account default requires tokens, neither of which the template "
                           f"controls")
        elif key[1] == "unknown":
            conservative = True
            if layer is not None and layer.unknown is not None:
                message = (f"IMDSv2 cannot be confirmed: {layer.unknown} sets the metadata options and nothing in "
                           "the template overrides HttpTokens")
            else:
                message = f"IMDSv2 cannot be confirmed: HttpTokens comes from {key[2]}"
        else:
            below = [b for b in setting.below if b.metadata]
            precedence = f", which takes precedence over {below[-1].label}" if below and layer is not None else ""
            message = (f"{layer.label if layer else 'the launch'} sets MetadataOptions.HttpTokens to {key[2]}"
                       f"{_reasons(setting.notes)}{precedence}: IMDSv1 stays enabled")
        used = [label for label in group["launches"] if label not in message]
        if used:
            message += f"; it applies to {', '.join(used)}"
        out.add("E9102", resource, path, message, conservative=conservative)


# --------------------------------------------------------------------------- E9103: EBS

ROOT_DEVICES = ("/dev/xvda", "/dev/sda1", "/dev/sda", "xvda", "sda1")
NOT_SEEN = "which the template cannot see"


def _encryption_problem(value: Any) -> tuple[str, bool] | None:
    if is_true(value):
        return None
    if value is MISSING:
        return (f"does not set Encrypted: it is encrypted only if the account turns on EBS encryption by default "
                f"(or its snapshot is encrypted), {NOT_SEEN}"), False
    if isinstance(value, Unknown | Text):
        return f"takes Encrypted from {show(value)}, which may be false", True
    return f"is not encrypted (Encrypted: {show(value)})", False


def _root_state(view: TemplateView, layers: tuple[Layer, ...]) -> tuple[str, Layer | None]:
    for layer in reversed(layers):
        if layer.unknown is not None:
            return "unknown", layer
        for device in block_devices(view, layer):
            if not isinstance(device.device, str) or device.device in ROOT_DEVICES:
                return "mapped", layer
    return "missing", None


def _check_ebs(view: TemplateView, out: _Findings) -> None:
    for own in launch_settings(view):
        for device in block_devices(view, own):
            problem = _encryption_problem(device.encrypted)
            if problem:
                out.add("E9103", _owner(device.path, own.resource), device.path,
                        f"block device {show(device.device)} of {own.label} {problem[0]}{_reasons(device.notes)}",
                        conservative=problem[1])
    for name in view.of_type(VOLUME):
        for props in view.properties(name):
            for value in view.get(props, "Encrypted"):
                problem = _encryption_problem(value.value)
                if problem:
                    out.add("E9103", name, value.path, f"volume {name} {problem[0]}{_reasons(value.notes)}",
                            conservative=problem[1])
    for launch in launches(view):
        state, layer = _root_state(view, launch.layers)
        if state == "mapped":
            continue
        if state == "unknown" and layer is not None:
            out.add("E9103", launch.resource, layer.path or ("Resources", launch.resource, "Properties"),
                    f"the root volume of {launch.label} cannot be checked: {layer.unknown} maps its block devices; "
                    "map the root device with Encrypted: true where the template can see it", conservative=True)
            continue
        places = [layer.label for layer in reversed(launch.layers) if layer.block_devices and layer.unknown is None]
        path = _missing_path(launch.layers)
        out.add("E9103", _owner(path, launch.resource), path,
                f"no block device mapping for the root device ({' or '.join(ROOT_DEVICES[:2])}) in "
                f"{' or '.join(places) or launch.label}: the root volume of {launch.label} is the AMI's snapshot, "
                f"encrypted only if the account turns on EBS encryption by default, {NOT_SEEN}")


# --------------------------------------------------------------------------- E9104 / E9105 / E9110 / W9111: buckets

SSE_ALGORITHMS = ("AES256", "aws:kms", "aws:kms:dsse")
PUBLIC_ACCESS_SETTINGS = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
PUBLIC_ACLS = ("PublicRead", "PublicReadWrite", "AuthenticatedRead")
ACL_OWNERSHIP = ("ObjectWriter", "BucketOwnerPreferred")
S3_DEFAULT_NOTE = "S3 applies SSE-S3 to new objects anyway since January 2023, but the pack must state its encryption"


def _check_bucket_encryption(view: TemplateView, name: str, props: Alt, out: _Findings) -> None:
    for config in view.get(props, "BucketEncryption"):
        if config.value is MISSING:
            out.add("E9104", name, config.path, f"bucket {name} does not declare default encryption "
                                                f"(BucketEncryption); {S3_DEFAULT_NOTE}")
            continue
        if isinstance(config.value, Unknown | Text):
            out.add("E9104", name, config.path, f"bucket {name} takes BucketEncryption from {show(config.value)}",
                    conservative=True)
            continue
        rules = view.elements(view.get(config, "ServerSideEncryptionConfiguration"))
        if not rules:
            out.add("E9104", name, config.path, f"bucket {name} has a BucketEncryption without rules; {S3_DEFAULT_NOTE}")
        for rule in rules:
            for default in view.get(rule, "ServerSideEncryptionByDefault"):
                if default.value is MISSING:
                    out.add("E9104", name, default.path, f"bucket {name} has an encryption rule without "
                                                         f"ServerSideEncryptionByDefault; {S3_DEFAULT_NOTE}")
                    continue
                for algorithm in view.get(default, "SSEAlgorithm"):
                    value = algorithm.value
                    if value in SSE_ALGORITHMS:
                        continue
                    if isinstance(value, Unknown | Text):
                        out.add("E9104", name, algorithm.path, f"bucket {name} takes SSEAlgorithm from {show(value)}",
                                conservative=True)
                    else:
                        out.add("E9104", name, algorithm.path,
                                f"bucket {name} has an encryption rule without a default algorithm "
                                f"(SSEAlgorithm {show(value)}); {S3_DEFAULT_NOTE}")


def _check_public_access_block(view: TemplateView, name: str, props: Alt, out: _Findings) -> None:
    for block in view.get(props, "PublicAccessBlockConfiguration"):
        if block.value is MISSING:
            out.add("E9105", name, block.path,
                    f"bucket {name} has no PublicAccessBlockConfiguration: S3 blocks public access on new buckets by "
                    "default since April 2023, but the pack must state all four settings (an account or a later "
                    "change can turn them off)")
            continue
        if isinstance(block.value, Unknown | Text):
            out.add("E9105", name, block.path, f"bucket {name} takes PublicAccessBlockConfiguration from "
                                               f"{show(block.value)}", conservative=True)
            continue
        for setting in PUBLIC_ACCESS_SETTINGS:
            for value in view.get(block, setting):
                if is_true(value.value):
                    continue
                if value.value is MISSING:
                    what, conservative = "not set", False
                elif isinstance(value.value, Unknown | Text):
                    what, conservative = f"taken from {show(value.value)}", True
                else:
                    what, conservative = show(value.value), False
                out.add("E9105", name, value.path,
                        f"bucket {name} does not block public access: {setting} is {what}{_reasons(value.notes)}",
                        conservative=conservative)


def _check_buckets(view: TemplateView, out: _Findings) -> None:
    for name in view.of_type(BUCKET):
        for props in view.properties(name):
            _check_bucket_encryption(view, name, props, out)
            _check_public_access_block(view, name, props, out)
            for acl in view.get(props, "AccessControl"):
                if acl.value in PUBLIC_ACLS:
                    out.add("E9110", name, acl.path, f"bucket {name} has the canned ACL {acl.value}: "
                                                     f"{'anyone with an AWS account' if acl.value == 'AuthenticatedRead' else 'anyone'} "
                                                     f"can {'read and write' if acl.value == 'PublicReadWrite' else 'read'} it"
                                                     f"{_reasons(acl.notes)}")
                elif isinstance(acl.value, Unknown | Text):
                    out.add("E9110", name, acl.path, f"bucket {name} takes AccessControl from {show(acl.value)}, which "
                                                     "may be PublicRead", conservative=True)
            for rule in view.elements(view.get(view.get(props, "OwnershipControls"), "Rules")):
                for ownership in view.get(rule, "ObjectOwnership"):
                    if ownership.value in ACL_OWNERSHIP:
                        out.add("W9111", name, ownership.path,
                                f"bucket {name} sets ObjectOwnership {ownership.value}, which turns ACLs back on: "
                                "objects can then be shared one by one with ACLs")
                    elif isinstance(ownership.value, Unknown | Text):
                        out.add("W9111", name, ownership.path, f"bucket {name} takes ObjectOwnership from "
                                                               f"{show(ownership.value)}", conservative=True)


# --------------------------------------------------------------------------- principals (E9109 / E9113)

# Condition keys that make a policy statement non-public when compared with fixed values (S3's own
# definition of "public", plus the organization and principal keys).
RESTRICTING_KEYS = frozenset(k.lower() for k in (
    "aws:SourceIp", "aws:SourceArn", "aws:SourceVpc", "aws:SourceVpce", "aws:SourceOwner", "aws:SourceAccount",
    "aws:SourceOrgID", "aws:SourceOrgPaths", "aws:PrincipalAccount", "aws:PrincipalArn", "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths", "aws:userid", "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "s3:DataAccessPointArn", "s3:DataAccessPointAccount"))


def _restricted(view: TemplateView, statement: Alt) -> bool:
    """True when the statement's Condition limits who can use it to fixed values (every alternative)."""
    for condition in view.get(statement, "Condition"):
        value = condition.value
        if not isinstance(value, Mapping):
            return False
        limited = False
        for operator, tests in value.items():
            operator = str(operator)
            if operator.endswith("IfExists") or operator == "Null" or operator.startswith("ForAnyValue") \
                    or not isinstance(tests, Mapping):
                continue
            for key, expected in tests.items():
                if str(key).lower() not in RESTRICTING_KEYS:
                    continue
                values = expected if isinstance(expected, list) else [expected]
                fixed = True
                for item in values:
                    found = pattern_of(view.alts(item, condition.path)[0].value) if not isinstance(item, str) else (item, ())
                    if found is None or found[1] or "*" in found[0] or "?" in found[0] or found[0] in ("0.0.0.0/0", "::/0"):
                        fixed = False
                if fixed and values:
                    limited = True
        if not limited:
            return False
    return True


def _everyone(view: TemplateView, statement: Alt) -> tuple[str, bool] | None:
    """How the statement names everyone ("Principal *", "NotPrincipal ..."), and whether that is a guess."""
    if isinstance(statement.value, Unknown):
        return f"anyone ({statement.value.reason})", True
    for not_principal in view.get(statement, "NotPrincipal"):
        if not_principal.value is not MISSING:
            return f"everyone but NotPrincipal {show(not_principal.value)}", False
    for principal in view.get(statement, "Principal"):
        value = principal.value
        if value == "*":
            return 'Principal "*"', False
        if isinstance(value, Unknown | Text):
            return f"Principal {show(value)}", True
        if isinstance(value, Mapping):
            for member in view.elements(view.get(principal, "AWS")):
                found = pattern_of(member.value)
                if found is None:
                    continue
                text, unknowns = found
                if text == "*" and not unknowns:
                    return 'Principal {"AWS": "*"}', False
                if unknowns or glob_matches(text, "arn:aws:iam::999999999999:root"):
                    return f"Principal AWS {show(member.value)}", bool(unknowns)
    return None


def _allows(view: TemplateView, statement: Alt) -> bool:
    return any(e.value == "Allow" or isinstance(e.value, Unknown | Text) for e in view.get(statement, "Effect"))


def _statement_label(view: TemplateView, statement: Alt) -> str:
    sids = [s.value for s in view.get(statement, "Sid") if isinstance(s.value, str)]
    if sids:
        return f"statement {sids[0]}"
    index = next((p for p in reversed(statement.path) if isinstance(p, int)), None)
    return f"statement {index + 1}" if index is not None else "the statement"


def _check_bucket_policies(view: TemplateView, out: _Findings) -> None:
    for name in view.of_type(BUCKET_POLICY):
        for props in view.properties(name):
            buckets = [bucket_of(view, b) or show(b.value) for b in view.get(props, "Bucket")]
            bucket = buckets[0] if buckets else "?"
            for document in view.get(props, "PolicyDocument"):
                for statement in statements(view, view.document(document)):
                    if not _allows(view, statement):
                        continue
                    everyone = _everyone(view, statement)
                    if everyone is None or _restricted(view, statement):
                        continue
                    actions = ", ".join(show(a.value) for a in view.elements(view.get(statement, "Action"))) or "its actions"
                    out.add("E9109", name, statement.path,
                            f"bucket policy {name} lets {everyone[0]} do {actions} on bucket {bucket} "
                            f"({_statement_label(view, statement)}) without a condition that limits who",
                            conservative=everyone[1])


def _check_trust(view: TemplateView, out: _Findings) -> None:
    for role, document in trust_policies(view):
        for statement in statements(view, document):
            if not _allows(view, statement):
                continue
            everyone = _everyone(view, statement)
            if everyone is None or _restricted(view, statement):
                continue
            out.add("E9113", role, statement.path,
                    f"role {role} can be assumed by {everyone[0]} ({_statement_label(view, statement)} of its trust "
                    "policy) without a condition that limits who", conservative=everyone[1])


# --------------------------------------------------------------------------- IAM (E9106 / E9112 / W9107)

ACCOUNT = "123456789012"
ALL_ACTIONS = ("iam:CreateUser", "s3:GetObject", "ec2:RunInstances", "kms:Decrypt", "sts:AssumeRole",
               "zzprobe:ZzProbeAction")
IAM_ACTIONS = ("iam:AttachRolePolicy", "iam:PutRolePolicy", "iam:CreatePolicyVersion", "iam:CreateUser",
               "iam:CreateAccessKey", "iam:PassRole", "iam:UpdateAssumeRolePolicy")
SERVICE_ACTIONS = ("ZzProbeAction", "GetObject", "PutObject", "DeleteBucket", "CreateUser", "RunInstances", "Decrypt")
ALL_RESOURCES = ("arn:aws:s3:::zz-probe-bucket", "arn:aws:s3:::zz-probe-bucket/zz/probe-key",
                 f"arn:aws:iam::{ACCOUNT}:role/zz-probe-role", f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0zzprobe",
                 f"arn:aws:kms:us-east-1:{ACCOUNT}:key/zz-probe", f"arn:aws:zzprobe:us-east-1:{ACCOUNT}:zz/probe")
ANY_ROLE = (f"arn:aws:iam::{ACCOUNT}:role/zz-probe-role", f"arn:aws:iam::{ACCOUNT}:role/service-role/zz-probe")
BROAD_MANAGED = {"AdministratorAccess": "E9106", "IAMFullAccess": "E9106", "PowerUserAccess": "E9112",
                 "ReadOnlyAccess": "E9112", "AmazonS3ReadOnlyAccess": "E9112"}
FULL_ACCESS = re.compile(r"FullAccess(V\d+)?$")
POLICY_NAME = re.compile(r":policy/(?:.*/)?([^/]+)$")


def _service_resources(service: str) -> tuple[str, ...]:
    if service == "s3":
        return ALL_RESOURCES[:2]
    if service == "iam":
        return (f"arn:aws:iam::{ACCOUNT}:role/zz-probe-role", f"arn:aws:iam::{ACCOUNT}:user/zz-probe",
                f"arn:aws:iam::{ACCOUNT}:policy/zz-probe")
    return (f"arn:aws:{service}:us-east-1:{ACCOUNT}:zz-probe/zz-probe", f"arn:aws:{service}:us-east-1:{ACCOUNT}:zz-probe")


@dataclass
class _Patterns:
    """The Action or Resource of a statement: globs (unknown parts as ``*``), how they are written, and
    ``negated`` for NotAction/NotResource (everything except the globs)."""

    globs: list[str] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    negated: bool = False

    def covers(self, probes: Iterable[str], *, ignore_case: bool = False) -> bool:
        probes = list(probes)
        if self.negated:
            return not all(any(glob_matches(g, p, ignore_case=ignore_case) for g in self.globs) for p in probes)
        return any(all(glob_matches(g, p, ignore_case=ignore_case) for p in probes) for g in self.globs)

    def may_match(self, probe: str, *, ignore_case: bool = False) -> bool:
        hit = any(glob_matches(g, probe, ignore_case=ignore_case) for g in self.globs)
        return not hit if self.negated else hit

    def describe(self, key: str) -> str:
        text = ", ".join(self.shown) if len(self.shown) != 1 else self.shown[0]
        return f"{'Not' if self.negated else ''}{key} {text}"


def _patterns(view: TemplateView, statement: Alt, key: str) -> _Patterns:
    result = _Patterns()
    negated = [a for a in view.get(statement, f"Not{key}") if a.value is not MISSING]
    source = negated if negated else view.get(statement, key)
    result.negated = bool(negated)
    for item in view.elements(source):
        found = pattern_of(item.value)
        if found is None:
            continue
        result.globs.append(found[0])
        result.shown.append(f"<{item.value.reason.split(',')[0]}>" if isinstance(item.value, Unknown) else show(item.value))
        result.reasons += found[1]
    return result


def _service_wide(actions: _Patterns) -> list[tuple[str, str]]:
    """(service, shown action) for each action glob that covers every action of one service."""
    out: list[tuple[str, str]] = []
    if actions.negated:
        return out
    for glob, shown in zip(actions.globs, actions.shown, strict=True):
        service, colon, action = glob.partition(":")
        if not colon or "*" in service or "?" in service:
            continue
        if all(glob_matches(action, probe, ignore_case=True) for probe in SERVICE_ACTIONS):
            out.append((service.lower(), shown))
    return out


def _check_statement(view: TemplateView, label: str, resource: str, statement: Alt, out: _Findings) -> None:
    if not _allows(view, statement):
        return
    actions = _patterns(view, statement, "Action")
    resources = _patterns(view, statement, "Resource")
    if not actions.globs and not actions.negated:
        return
    if not resources.globs and not resources.negated:
        return
    reasons = list(dict.fromkeys(actions.reasons + resources.reasons))
    tail = f" (not fixed: {'; '.join(reasons)})" if reasons else ""
    where = f"{label} ({_statement_label(view, statement)}) allows {actions.describe('Action')} on " \
            f"{resources.describe('Resource')}"
    if actions.covers(ALL_ACTIONS, ignore_case=True) and resources.covers(ALL_RESOURCES):
        out.add("E9106", resource, statement.path, f"{where}: every action on every resource{tail}",
                conservative=bool(reasons))
        return
    if actions.covers(IAM_ACTIONS, ignore_case=True) and resources.covers(_service_resources("iam")):
        out.add("E9106", resource, statement.path,
                f"{where}: every IAM action, with which it can grant itself every other permission{tail}",
                conservative=bool(reasons))
        return
    whole_services = _service_wide(actions)
    flagged = False
    for service, shown in whole_services:
        if resources.covers(_service_resources(service)):
            flagged = True
            out.add("E9112", resource, statement.path,
                    f"{where}: every {service} action ({shown}) on every {service} resource{tail}",
                    conservative=bool(reasons))
    if actions.may_match("iam:PassRole", ignore_case=True) and resources.covers(ANY_ROLE):
        out.add("W9107", resource, statement.path, f"{where}: it can pass any role to a service{tail}",
                conservative=bool(reasons))
    if flagged:
        return
    if actions.covers(ALL_ACTIONS, ignore_case=True):
        out.add("W9115", resource, statement.path, f"{where}: every action, not the ones it needs{tail}",
                conservative=bool(reasons))
    elif whole_services:
        listed = ", ".join(shown for _, shown in whole_services)
        out.add("W9115", resource, statement.path, f"{where}: whole services ({listed}), not the actions it needs{tail}",
                conservative=bool(reasons))
    probes = _probes(actions)
    if any(resources.may_match(probe) for probe in probes):
        out.add("W9115", resource, statement.path,
                f"{where}: resources outside this stack, not only its own{tail}", conservative=bool(reasons))


def _probes(actions: _Patterns) -> tuple[str, ...]:
    """Resources of other stacks that the statement's actions apply to (every kind when a service is not fixed)."""
    services: list[str] = []
    for glob in actions.globs:
        service, colon, _ = glob.partition(":")
        if actions.negated or not colon or "*" in service or "?" in service:
            return ALL_RESOURCES
        services.append(service.lower())
    out: list[str] = []
    for service in dict.fromkeys(services):
        out += _service_resources(service)
    return tuple(out)


def _check_iam(view: TemplateView, out: _Findings) -> None:
    for policy in identity_policies(view):
        document = policy.document
        if isinstance(document.value, Unknown | Text):
            out.add("E9106", policy.resource, document.path,
                    f"{policy.label} takes its policy document from {show(document.value)}, which the rules cannot "
                    "check", conservative=True)
            continue
        for statement in statements(view, document):
            _check_statement(view, policy.label, policy.resource, statement, out)
    for principal, arn in managed_policy_arns(view):
        _check_managed_arn(view, principal, arn, out)


def _check_managed_arn(view: TemplateView, principal: str, arn: Alt, out: _Findings) -> None:
    if view.resource_of(arn, "AWS::IAM::ManagedPolicy"):
        return  # its document is checked as a resource of its own
    found = pattern_of(arn.value)
    if found is None:
        return
    text, unknowns = found
    match = POLICY_NAME.search(text)
    name = match.group(1) if match else None
    aws_managed = ":iam::aws:policy/" in text
    if unknowns or not match or "*" in (name or "") or not aws_managed:
        what = (f"a managed policy from {'; '.join(unknowns)}" if isinstance(arn.value, Unknown) or not match
                else f"the managed policy {show(arn.value)}" + (f" ({'; '.join(unknowns)})" if unknowns
                                                                 else " (defined outside this template)"))
        out.add("E9106", principal, arn.path,
                f"{principal} has {what}, whose permissions the rules cannot check", conservative=True,
                fix="define the policy in the template (AWS::IAM::ManagedPolicy) or use a narrow AWS managed policy")
        return
    rule = BROAD_MANAGED.get(name or "") or ("E9112" if FULL_ACCESS.search(name or "") else None)
    if rule == "E9106":
        out.add("E9106", principal, arn.path,
                f"{principal} has the AWS managed policy {name}: "
                f"{'every action on every resource' if name == 'AdministratorAccess' else 'every IAM action, with which it can grant itself everything else'}")
    elif rule == "E9112":
        out.add("E9112", principal, arn.path,
                f"{principal} has the AWS managed policy {name}, which allows whole services on every resource")


# --------------------------------------------------------------------------- E9108: AMI ids

AMI_ID = re.compile(r"^ami-[0-9a-f]{8,17}$")
AMI_SECTIONS = ("Parameters", "Mappings", "Conditions", "Resources", "Rules")


def _dotted(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _check_amis(view: TemplateView, out: _Findings) -> None:
    for section in AMI_SECTIONS:
        node = view.template.get(section)
        for path, value in walk_strings(node, (section,)):
            if not AMI_ID.match(value.strip()):
                continue
            owner = str(path[1]) if len(path) > 1 else section
            if section == "Parameters":
                how = "defaults to" if len(path) > 2 and path[2] == "Default" else "allows"
                message = f"parameter {owner} {how} the fixed AMI {value}"
            elif section == "Mappings":
                message = f"mapping {owner} hard-codes the AMI {value} at {_dotted(path)}"
            else:
                message = f"fixed AMI {value} at {_dotted(path)}"
            out.add("E9108", owner, path, f"{message}; AMI ids differ per region and go stale")


PUBLIC_SSM = "/aws/service/"
RESOLVE_PUBLIC_SSM = re.compile(r"^\{\{resolve:ssm:/aws/service/[^{}]+\}\}$")


def _check_images(view: TemplateView, out: _Findings) -> None:
    """Every ImageId comes from an AWS public SSM parameter (fixed ami-... ids are ``_check_amis``')."""
    for layer, alt in image_ids(view):
        value = alt.value
        if isinstance(value, SsmParameter):
            if isinstance(value.default, str) and value.default.strip().startswith(PUBLIC_SSM):
                continue
            default = "no default" if value.default is None else f"the default {show(value.default)}"
            where = f"parameter {value.parameter}, an SSM parameter with {default}, which is not under {PUBLIC_SSM}"
        elif isinstance(value, Unknown):
            where = f"{value.reason}: the deployer can give any AMI"
        else:
            found = pattern_of(value)
            text = found[0].strip() if found is not None and not found[1] else None
            if text is not None and (AMI_ID.match(text) or RESOLVE_PUBLIC_SSM.match(text)):
                continue
            where = show(value)
        out.add("E9108", layer.resource or _owner(alt.path, "?"), alt.path,
                f"{layer.label} takes its image from {where}; it is not an AWS public SSM parameter{_reasons(alt.notes)}")


CHECKS: tuple[Callable[[TemplateView, _Findings], None], ...] = (
    _check_ingress, _check_imds, _check_ebs, _check_buckets, _check_bucket_policies, _check_trust, _check_iam,
    _check_amis, _check_images,
)
