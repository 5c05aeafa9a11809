"""What changes for a user between two versions of a pack.

``diff_packs(old, new)`` compares two versions (``DiffInput``: the pack model and its
CloudFormation template) and returns a ``PackDiff``: resources, IAM grants,
security-relevant changes, template parameters, sizes and monthly costs,
regions and software. ``render_text`` turns it into a sectioned report with a
one-line summary; ``PackDiff.to_dict`` is the ``--json`` form.

Pure: no I/O; imports only the standard library and ``registry_tools.security`` (the pack
types are for annotations). The security section runs the same rules as ``registry validate``
and the client (``registry_tools.security.check_template``) on both templates: a finding the new
version has and the old one did not is a ``warning`` ("new E9102: ..."), one it no longer has
is ``info`` ("resolved E9102: ..."), each with its rule id and fix; so a weakening hidden
anywhere the rules look (an instance's own metadata options, a fleet override, a bucket policy,
a managed policy ARN) shows here too. Ingress opened or closed from private networks or
security groups, which no rule forbids, is listed as ``info``.

The template is read in one place, ``registry_tools.security.effective``, for the rules and for
this diff alike: the IAM section (``iam_grants``, ``managed_policies``, also what ``deploy
--dry-run`` lists) and the ingress list (``security.inbound``) see what the rules see: separate
ingress resources and prefix lists, policy resources, documents given as JSON text, every
``Fn::If`` branch and a parameter's allowed values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from registry_tools.security import check_template, inbound
from registry_tools.security.effective import (
    MISSING,
    ResourceRef,
    TemplateView,
    Unknown,
    identity_policies,
    managed_policy_arns,
    show,
    statements,
)

if TYPE_CHECKING:
    from registry_tools.packs.model import Pack, Size

WARNING = "warning"
INFO = "info"

ADDED = "added"
REMOVED = "removed"
CHANGED = "changed"

SIZE_FIELDS = ("instance_type", "vcpus", "memory_gib", "gpus", "gpu_model", "storage_gib", "efa")
RESOURCE_ATTRIBUTES = ("Condition", "DependsOn", "DeletionPolicy", "UpdateReplacePolicy", "UpdatePolicy",
                       "CreationPolicy", "Metadata")
SOFTWARE_ORDER = ("base_image", "conda", "conda channels", "spack", "pip", "containers", "system_packages")


class DiffInput(Protocol):
    """What the diff reads of a version: ``packs.loader.LoadedPack`` (installed copies) or
    ``site.version_changes.VersionFiles`` (archives, for the catalog site)."""

    @property
    def pack(self) -> Pack: ...

    @property
    def template(self) -> Mapping[str, Any]: ...


# --------------------------------------------------------------------------- result values


@dataclass(frozen=True)
class ResourceChange:
    """A template resource added, removed or changed (same logical id, different Type/Properties/attributes)."""

    kind: str
    logical_id: str
    type: str
    old_type: str | None = None
    properties: tuple[str, ...] = ()
    attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class IamGrant:
    """One action of one policy statement: ``principal`` (role/user/group/policy and policy name) may do ``action`` on ``resource``."""

    kind: str
    principal: str
    effect: str
    action: str
    resource: str

    def describe(self) -> str:
        return f"{self.principal}: {self.effect} {self.action} on {self.resource}"


@dataclass(frozen=True)
class ManagedPolicyChange:
    kind: str
    principal: str
    arn: str


@dataclass(frozen=True)
class SecurityChange:
    """A security rule finding that appears (``warning``) or is resolved (``info``) in the new version
    (``rule``: its id, ``fix``: what to change), or an informational ingress change (``rule`` None)."""

    severity: str
    message: str
    resource: str | None = None
    rule: str | None = None
    fix: str | None = None


@dataclass(frozen=True)
class ParameterChange:
    """``kind``: added, removed, default, allowed_values or type."""

    name: str
    kind: str
    old: Any = None
    new: Any = None

    def describe(self) -> str:
        if self.kind == ADDED:
            return f"{self.name} ({_param_summary(self.new)})"
        if self.kind == REMOVED:
            return f"{self.name} (was {_param_summary(self.old)})"
        if self.kind == "allowed_values":
            old, new = list(self.old or []), list(self.new or [])
            plus = [v for v in new if v not in old]
            minus = [v for v in old if v not in new]
            parts = [f"+{_show_value(v)}" for v in plus] + [f"-{_show_value(v)}" for v in minus]
            return f"{self.name} allowed values: {', '.join(parts) if parts else 'reordered'}"
        label = "default" if self.kind == "default" else "type"
        return f"{self.name} {label}: {_show_value(self.old)} -> {_show_value(self.new)}"


@dataclass(frozen=True)
class SizeChange:
    kind: str
    name: str
    old: Size | None = None
    new: Size | None = None
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class CostChange:
    """Monthly cost of one size, old -> new (``None`` when the size is new or gone)."""

    size: str
    old: float | None
    new: float | None

    @property
    def delta(self) -> float | None:
        return None if self.old is None or self.new is None else round(self.new - self.old, 2)

    @property
    def percent(self) -> float | None:
        if self.delta is None or not self.old:
            return None
        return round(100.0 * self.delta / self.old, 1)

    def to_dict(self) -> dict[str, Any]:
        return {"size": self.size, "old": self.old, "new": self.new, "delta": self.delta, "percent": self.percent}


@dataclass(frozen=True)
class SoftwareChange:
    """``manager``: base_image, conda, conda channels, spack, pip, containers or system_packages."""

    manager: str
    kind: str
    name: str
    old_version: str | None = None
    new_version: str | None = None

    def describe(self) -> str:
        if self.kind == ADDED:
            return f"{self.name} {self.new_version}" if self.new_version else self.name
        if self.kind == REMOVED:
            return f"{self.name} {self.old_version}" if self.old_version else self.name
        return f"{self.name} {self.old_version} -> {self.new_version}"


@dataclass(frozen=True)
class PackDiff:
    name: str
    old_name: str
    old_version: str
    new_version: str
    resources: tuple[ResourceChange, ...] = ()
    iam: tuple[IamGrant, ...] = ()
    managed_policies: tuple[ManagedPolicyChange, ...] = ()
    security: tuple[SecurityChange, ...] = ()
    parameters: tuple[ParameterChange, ...] = ()
    default_size: tuple[str, str] | None = None
    sizes: tuple[SizeChange, ...] = ()
    costs: tuple[CostChange, ...] = ()
    cost_basis: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    default_cost: CostChange | None = None
    regions_added: tuple[str, ...] = ()
    regions_removed: tuple[str, ...] = ()
    software: tuple[SoftwareChange, ...] = ()

    # -- views

    @property
    def is_empty(self) -> bool:
        return not (self.resources or self.iam or self.managed_policies or self.security or self.parameters
                    or self.default_size or self.sizes or self.costs or self.cost_basis
                    or self.regions_added or self.regions_removed or self.software)

    @property
    def warnings(self) -> tuple[SecurityChange, ...]:
        return tuple(c for c in self.security if c.severity == WARNING)

    def resources_by_type(self, kind: str) -> dict[str, list[ResourceChange]]:
        """Resource changes of one kind (added/removed/changed), grouped by CloudFormation type."""
        grouped: dict[str, list[ResourceChange]] = {}
        for change in self.resources:
            if change.kind == kind:
                grouped.setdefault(change.type, []).append(change)
        return {t: grouped[t] for t in sorted(grouped)}

    def size_change(self, name: str) -> SizeChange | None:
        return next((c for c in self.sizes if c.name == name), None)

    def cost_change(self, size: str) -> CostChange | None:
        return next((c for c in self.costs if c.size == size), None)

    def software_change(self, name: str, manager: str | None = None) -> SoftwareChange | None:
        return next((c for c in self.software if c.name == name and manager in (None, c.manager)), None)

    def parameter_changes(self, name: str) -> list[ParameterChange]:
        return [c for c in self.parameters if c.name == name]

    def summary(self) -> str:
        return _summary(self)

    def to_dict(self) -> dict[str, Any]:
        def resources(kind: str) -> dict[str, list[Any]]:
            out: dict[str, list[Any]] = {}
            for rtype, changes in self.resources_by_type(kind).items():
                if kind == CHANGED:
                    out[rtype] = [{"logical_id": c.logical_id, "old_type": c.old_type,
                                   "properties": list(c.properties), "attributes": list(c.attributes)} for c in changes]
                else:
                    out[rtype] = [c.logical_id for c in changes]
            return out

        def grant(g: IamGrant) -> dict[str, str]:
            return {"principal": g.principal, "effect": g.effect, "action": g.action, "resource": g.resource}

        def size(s: Size | None) -> dict[str, Any] | None:
            return None if s is None else asdict(s)

        return {
            "pack": self.name,
            "old_pack": self.old_name,
            "old_version": self.old_version,
            "new_version": self.new_version,
            "summary": self.summary(),
            "empty": self.is_empty,
            "resources": {"added": resources(ADDED), "removed": resources(REMOVED), "changed": resources(CHANGED)},
            "iam": {
                "added": [grant(g) for g in self.iam if g.kind == ADDED],
                "removed": [grant(g) for g in self.iam if g.kind == REMOVED],
                "managed_policies_added": [{"principal": m.principal, "arn": m.arn}
                                           for m in self.managed_policies if m.kind == ADDED],
                "managed_policies_removed": [{"principal": m.principal, "arn": m.arn}
                                             for m in self.managed_policies if m.kind == REMOVED],
            },
            "security": [{"severity": c.severity, "message": c.message, "resource": c.resource, "rule": c.rule,
                          "fix": c.fix} for c in self.security],
            "parameters": [{"name": c.name, "change": c.kind, "old": c.old, "new": c.new} for c in self.parameters],
            "default_size": None if self.default_size is None else {"old": self.default_size[0], "new": self.default_size[1]},
            "sizes": {
                "added": [{"name": c.name, **(size(c.new) or {})} for c in self.sizes if c.kind == ADDED],
                "removed": [{"name": c.name, **(size(c.old) or {})} for c in self.sizes if c.kind == REMOVED],
                "changed": [{"name": c.name, "fields": {f: {"old": getattr(c.old, f), "new": getattr(c.new, f)}
                                                        for f in c.fields}}
                            for c in self.sizes if c.kind == CHANGED],
            },
            "monthly_cost": {
                "sizes": [c.to_dict() for c in self.costs],
                "default": None if self.default_cost is None else self.default_cost.to_dict(),
                "basis_changed": {k: {"old": o, "new": n} for k, (o, n) in self.cost_basis.items()},
            },
            "regions": {"added": list(self.regions_added), "removed": list(self.regions_removed)},
            "software": [{"manager": c.manager, "change": c.kind, "name": c.name,
                          "old_version": c.old_version, "new_version": c.new_version} for c in self.software],
        }


# --------------------------------------------------------------------------- entry point


def diff_packs(old: DiffInput, new: DiffInput) -> PackDiff:
    """Everything that changes for a user going from ``old`` to ``new`` (any two versions, either order)."""
    old_t, new_t = old.template, new.template
    grants_old, grants_new = set(iam_grants(old_t)), set(iam_grants(new_t))
    managed_old, managed_new = set(managed_policies(old_t)), set(managed_policies(new_t))
    iam = tuple(
        [IamGrant(ADDED, *g) for g in sorted(grants_new - grants_old)]
        + [IamGrant(REMOVED, *g) for g in sorted(grants_old - grants_new)]
    )
    managed = tuple(
        [ManagedPolicyChange(ADDED, *m) for m in sorted(managed_new - managed_old)]
        + [ManagedPolicyChange(REMOVED, *m) for m in sorted(managed_old - managed_new)]
    )
    security = _rule_changes(old_t, new_t) + _ingress_changes(old_t, new_t)
    costs, default_cost, basis = _costs(old.pack, new.pack)
    old_p, new_p = old.pack, new.pack
    return PackDiff(
        name=new_p.name,
        old_name=old_p.name,
        old_version=str(old_p.version),
        new_version=str(new_p.version),
        resources=_resource_changes(old_t, new_t),
        iam=iam,
        managed_policies=managed,
        security=tuple(sorted(security, key=lambda c: c.severity != WARNING)),
        parameters=_parameter_changes(old_t, new_t),
        default_size=None if old_p.default_size == new_p.default_size else (old_p.default_size, new_p.default_size),
        sizes=_size_changes(old_p, new_p),
        costs=costs,
        cost_basis=basis,
        default_cost=default_cost,
        regions_added=tuple(r for r in new_p.regions if r not in old_p.regions),
        regions_removed=tuple(r for r in old_p.regions if r not in new_p.regions),
        software=_software_changes(old_p.software, new_p.software),
    )


# --------------------------------------------------------------------------- template helpers


def _resources(template: Mapping[str, Any], *types: str) -> dict[str, dict[str, Any]]:
    resources = template.get("Resources") or {}
    return {name: res for name, res in resources.items()
            if isinstance(res, dict) and (not types or res.get("Type") in types)}


def _props(resource: Mapping[str, Any]) -> dict[str, Any]:
    props = resource.get("Properties", {})
    return props if isinstance(props, dict) else {}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _show(value: Any) -> str:
    """A template value for people: intrinsics in ``${...}`` form, everything else as text or compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref" and isinstance(arg, str):
            return "${" + arg + "}"
        if key == "Fn::GetAtt":
            parts = arg.split(".", 1) if isinstance(arg, str) else [str(a) for a in _as_list(arg)]
            return "${" + ".".join(parts) + "}"
        if key == "Fn::Sub":
            if isinstance(arg, str):
                return arg
            if isinstance(arg, list) and arg and isinstance(arg[0], str):
                return arg[0]
        if key == "Fn::Join" and isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], list):
            return str(arg[0]).join(_show(v) for v in arg[1])
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _show_value(value: Any) -> str:
    return "(none)" if value is None else _show(value)


def _param_summary(param: Any) -> str:
    if not isinstance(param, dict):
        return _show(param)
    parts = [str(param.get("Type", "String"))]
    if "Default" in param:
        parts.append(f"default {_show(param['Default'])}")
    return ", ".join(parts)


# --------------------------------------------------------------------------- resources and parameters


def _resource_changes(old_t: Mapping[str, Any], new_t: Mapping[str, Any]) -> tuple[ResourceChange, ...]:
    old_r, new_r = _resources(old_t), _resources(new_t)
    out: list[ResourceChange] = []
    for name in sorted(set(new_r) - set(old_r)):
        out.append(ResourceChange(ADDED, name, str(new_r[name].get("Type"))))
    for name in sorted(set(old_r) - set(new_r)):
        out.append(ResourceChange(REMOVED, name, str(old_r[name].get("Type"))))
    for name in sorted(set(old_r) & set(new_r)):
        before, after = old_r[name], new_r[name]
        old_type, new_type = str(before.get("Type")), str(after.get("Type"))
        p_old, p_new = _props(before), _props(after)
        props = tuple(sorted(k for k in set(p_old) | set(p_new) if p_old.get(k) != p_new.get(k)))
        attrs = tuple(a for a in RESOURCE_ATTRIBUTES if before.get(a) != after.get(a))
        if old_type != new_type or props or attrs:
            out.append(ResourceChange(CHANGED, name, new_type, old_type if old_type != new_type else None, props, attrs))
    return tuple(out)


def _parameter_changes(old_t: Mapping[str, Any], new_t: Mapping[str, Any]) -> tuple[ParameterChange, ...]:
    old_p = {k: v for k, v in (old_t.get("Parameters") or {}).items() if isinstance(v, dict)}
    new_p = {k: v for k, v in (new_t.get("Parameters") or {}).items() if isinstance(v, dict)}
    out: list[ParameterChange] = []
    for name in sorted(set(new_p) - set(old_p)):
        out.append(ParameterChange(name, ADDED, None, new_p[name]))
    for name in sorted(set(old_p) - set(new_p)):
        out.append(ParameterChange(name, REMOVED, old_p[name], None))
    for name in sorted(set(old_p) & set(new_p)):
        before, after = old_p[name], new_p[name]
        if before.get("Type") != after.get("Type"):
            out.append(ParameterChange(name, "type", before.get("Type"), after.get("Type")))
        if before.get("Default") != after.get("Default"):
            out.append(ParameterChange(name, "default", before.get("Default"), after.get("Default")))
        if before.get("AllowedValues") != after.get("AllowedValues"):
            out.append(ParameterChange(name, "allowed_values", before.get("AllowedValues"), after.get("AllowedValues")))
    return tuple(out)


# --------------------------------------------------------------------------- IAM


def _shown(value: Any) -> str:
    """A value read by ``security.effective`` for people: references in ``${...}`` form, a value the
    template does not fix as ``<why>`` (``<parameter X>``), everything else as the template writes it."""
    if isinstance(value, ResourceRef):
        return "${" + str(value) + "}"
    if isinstance(value, Unknown):
        return f"<{value.reason.split(',')[0]}>"
    return show(value)


def iam_grants(template: Mapping[str, Any]) -> Iterator[tuple[str, str, str, str]]:
    """(principal, effect, action, resource) for every action x resource of every identity policy
    statement, as ``security.effective`` reads them: inline policies (principal ``Role/PolicyName``),
    IAM policy resources, documents given as JSON text, each ``Fn::If`` branch and allowed value."""
    view = TemplateView(template)
    for policy in identity_policies(view):
        principal = policy.resource if policy.policy is None else f"{policy.resource}/{policy.policy}"
        for statement in statements(view, policy.document):
            effects = [_shown(e.value) for e in view.get(statement, "Effect") if e.value is not MISSING] or ["Allow"]
            actions = [_shown(a.value) for a in view.elements(view.get(statement, "Action"))]
            actions += [f"NotAction {_shown(a.value)}" for a in view.elements(view.get(statement, "NotAction"))]
            resources = [_shown(r.value) for r in view.elements(view.get(statement, "Resource"))]
            resources += [f"NotResource {_shown(r.value)}" for r in view.elements(view.get(statement, "NotResource"))]
            for effect in dict.fromkeys(effects):
                for action in dict.fromkeys(actions):
                    for resource in dict.fromkeys(resources or ["(no resource)"]):
                        yield principal, effect, action, resource


def managed_policies(template: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(role/user/group, ARN) for every managed policy ARN, as ``security.effective`` reads them."""
    for principal, arn in managed_policy_arns(TemplateView(template)):
        yield principal, _shown(arn.value)


# --------------------------------------------------------------------------- security rules


def _rule_changes(old_t: Mapping[str, Any], new_t: Mapping[str, Any]) -> list[SecurityChange]:
    """The security rules' findings that appear in the new template (warnings) or are gone (info).

    A finding is the same in both when its rule, resource and message are; when a resource keeps a
    finding of the same rule with another message, only the new message is shown (a warning)."""
    old_f, new_f = check_template(old_t), check_template(new_t)
    old_keys = {(f.rule, f.resource, f.message) for f in old_f}
    new_keys = {(f.rule, f.resource, f.message) for f in new_f}
    still = {(f.rule, f.resource) for f in new_f}
    out = [SecurityChange(WARNING, f"new {f.rule}: {f.message}", f.resource, f.rule, f.fix)
           for f in new_f if (f.rule, f.resource, f.message) not in old_keys]
    out += [SecurityChange(INFO, f"resolved {f.rule}: {f.message}", f.resource, f.rule)
            for f in old_f if (f.rule, f.resource, f.message) not in new_keys and (f.rule, f.resource) not in still]
    return out


# --------------------------------------------------------------------------- network ingress


def _ingress_changes(old_t: Mapping[str, Any], new_t: Mapping[str, Any]) -> list[SecurityChange]:
    """Ingress opened or closed from private networks, security groups and prefix lists (info), read by
    ``security.inbound``; permissions reachable from public addresses are the security rules' (E9101,
    W9114) and show as their findings."""
    old_rules = {r for r in inbound(old_t) if not r.public}
    new_rules = {r for r in inbound(new_t) if not r.public}
    out: list[SecurityChange] = []
    for verb, rules in (("opened", sorted(new_rules - old_rules)), ("closed", sorted(old_rules - new_rules))):
        out += [SecurityChange(INFO, f"ingress {verb}: {r.ports} from {r.source} on {r.group}", r.group) for r in rules]
    return out


# --------------------------------------------------------------------------- sizes, costs, software


def _size_changes(old: Pack, new: Pack) -> tuple[SizeChange, ...]:
    old_s, new_s = {s.name: s for s in old.sizes}, {s.name: s for s in new.sizes}
    out = [SizeChange(ADDED, name, None, size) for name, size in new_s.items() if name not in old_s]
    out += [SizeChange(REMOVED, name, size, None) for name, size in old_s.items() if name not in new_s]
    for name, size in new_s.items():
        if name in old_s:
            fields = tuple(f for f in SIZE_FIELDS if getattr(old_s[name], f) != getattr(size, f))
            if fields:
                out.append(SizeChange(CHANGED, name, old_s[name], size, fields))
    return tuple(out)


def _costs(old: Pack, new: Pack) -> tuple[tuple[CostChange, ...], CostChange | None, dict[str, tuple[Any, Any]]]:
    old_c, new_c = old.cost_estimate.monthly_usd, new.cost_estimate.monthly_usd
    names = [s.name for s in new.sizes] + [s.name for s in old.sizes if s.name not in {n.name for n in new.sizes}]
    changes = []
    for name in names:
        before, after = old_c.get(name), new_c.get(name)
        if before is None or after is None or abs(after - before) >= 0.005:
            changes.append(CostChange(name, before, after))
    default = None
    before, after = old_c.get(old.default_size), new_c.get(new.default_size)
    if before is not None or after is not None:
        label = new.default_size if old.default_size == new.default_size else f"{old.default_size} -> {new.default_size}"
        default = CostChange(label, before, after)
    basis: dict[str, tuple[Any, Any]] = {}
    for key in ("region", "hours_per_month", "price_date"):
        a, b = getattr(old.cost_estimate, key), getattr(new.cost_estimate, key)
        if a != b:
            basis[key] = (a, b)
    return tuple(changes), default, basis


_CONDA = re.compile(r"^(?P<name>[^=<>~!\s]+)\s*(?P<op>==|=|>=|<=|~=|!=|>|<)\s*(?P<version>.+)$")


def parse_software_item(manager: str, item: str) -> tuple[str, str | None]:
    """``(name, version)`` of one software entry: ``name=1.2``, ``name==1.2``, ``name@1.2 +variant``, ``image:tag``."""
    text = str(item).strip()
    if manager == "containers":
        if "@" in text:  # image@sha256:digest
            name, _, digest = text.partition("@")
            return name, digest
        slash = text.rfind("/")
        colon = text.rfind(":")
        if colon > slash:
            return text[:colon], text[colon + 1:]
        return text, None
    if manager == "spack":
        name, sep, rest = text.partition("@")
        if sep:
            return name.strip(), rest.lstrip("=").strip()
        name, _, rest = text.partition(" ")
        return name, rest.strip() or None
    match = _CONDA.match(text)
    if match:
        op = match["op"]
        version = match["version"].strip()
        return match["name"], version if op in ("=", "==") else f"{op}{version}"
    if "@" in text:
        name, _, version = text.partition("@")
        return name, version
    return text, None


def _software_items(software: Mapping[str, Any]) -> dict[str, dict[str, str | None]]:
    """Manager -> {name: version} for every list of software in a pack."""
    out: dict[str, dict[str, str | None]] = {}

    def add(manager: str, items: Any) -> None:
        table = out.setdefault(manager, {})
        for item in _as_list(items):
            name, version = parse_software_item(manager, str(item))
            key = name
            if key in table:  # the same package twice (two tags of one image): keep both apart
                key = str(item)
            table[key] = version

    conda = software.get("conda")
    if isinstance(conda, Mapping):
        add("conda", conda.get("packages"))
        add("conda channels", conda.get("channels"))
    spack = software.get("spack")
    if isinstance(spack, Mapping):
        add("spack", spack.get("specs"))
        if spack.get("version") is not None:
            out.setdefault("spack version", {})["spack"] = str(spack["version"])
    add("pip", software.get("pip"))
    add("containers", software.get("containers"))
    add("system_packages", software.get("system_packages"))
    if software.get("base_image") is not None:
        out["base_image"] = {"base image": str(software["base_image"])}
    return out


def _software_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[SoftwareChange, ...]:
    old_i, new_i = _software_items(old), _software_items(new)
    out: list[SoftwareChange] = []
    managers = [m for m in (*SOFTWARE_ORDER, "spack version") if m in old_i or m in new_i]
    for manager in managers:
        before, after = old_i.get(manager, {}), new_i.get(manager, {})
        if manager == "pip":  # pip names are case-insensitive
            before = {k.lower(): v for k, v in before.items()}
            after = {k.lower(): v for k, v in after.items()}
        shown = "spack" if manager == "spack version" else manager
        for name, version in after.items():
            if name not in before:
                out.append(SoftwareChange(shown, ADDED, name, None, version))
            elif before[name] != version:
                out.append(SoftwareChange(shown, CHANGED, name, before[name], version))
        for name, version in before.items():
            if name not in after:
                out.append(SoftwareChange(shown, REMOVED, name, version, None))
    return tuple(out)


# --------------------------------------------------------------------------- text


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:,.2f}"


def _signed_money(value: float) -> str:
    return f"{'+' if value >= 0 else '-'}${abs(value):,.2f}"


def _count(n: int, word: str, verb: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'} {verb}"


def _summary(diff: PackDiff) -> str:
    title = diff.name if diff.old_name == diff.name else f"{diff.old_name} -> {diff.name}"
    head = f"{title} {diff.old_version} -> {diff.new_version}"
    parts: list[str] = []
    if diff.warnings:
        parts.append(f"{len(diff.warnings)} security warning{'' if len(diff.warnings) == 1 else 's'}")
    for kind in (ADDED, REMOVED, CHANGED):
        n = sum(1 for c in diff.resources if c.kind == kind)
        if n:
            parts.append(_count(n, "resource", kind))
    iam = len(diff.iam) + len(diff.managed_policies)
    if iam:
        parts.append(f"{iam} IAM change{'' if iam == 1 else 's'}")
    for kind in (ADDED, REMOVED):
        n = sum(1 for c in diff.parameters if c.kind == kind)
        if n:
            parts.append(_count(n, "parameter", kind))
    n = len({c.name for c in diff.parameters if c.kind not in (ADDED, REMOVED)})
    if n:
        parts.append(_count(n, "parameter", CHANGED))
    for kind in (ADDED, REMOVED, CHANGED):
        n = sum(1 for c in diff.sizes if c.kind == kind)
        if n:
            parts.append(_count(n, "size", kind))
    if diff.default_size:
        parts.append(f"default size {diff.default_size[0]} -> {diff.default_size[1]}")
    if diff.regions_added:
        parts.append(_count(len(diff.regions_added), "region", ADDED))
    if diff.regions_removed:
        parts.append(_count(len(diff.regions_removed), "region", REMOVED))
    if diff.software:
        n = len(diff.software)
        parts.append(f"{n} software change{'' if n == 1 else 's'}")
    if diff.is_empty:
        return f"{head}: no changes"
    cost = diff.default_cost
    if cost is not None and cost.old is not None and cost.new is not None:
        if cost.delta:
            parts.append(f"{_signed_money(cost.delta)}/month on the default size ({cost.size}: "
                         f"{_money(cost.old)} -> {_money(cost.new)})")
        else:
            parts.append(f"default size {cost.size} unchanged at {_money(cost.new)}/month")
    return f"{head}: {', '.join(parts)}"


def _size_line(size: Size) -> str:
    parts = [size.instance_type, f"{size.vcpus} vCPUs", f"{size.memory_gib:g} GiB memory"]
    if size.gpus:
        parts.append(f"{size.gpus} x {size.gpu_model} GPU" if size.gpu_model else f"{size.gpus} GPUs")
    parts.append(f"{size.storage_gib} GiB storage")
    if size.efa:
        parts.append("EFA")
    return ", ".join(parts)


def render_text(diff: PackDiff) -> str:
    """A sectioned, readable report: summary line first, then only the sections with content."""
    lines = [diff.summary()]

    def section(title: str, body: list[str]) -> None:
        if body:
            lines.extend(["", title, *body])

    sign = {ADDED: "+", REMOVED: "-", CHANGED: "~"}

    section("Security", [f"  {'!' if c.severity == WARNING else 'i'} {c.severity}: {c.message}" for c in diff.security])

    body: list[str] = []
    types = sorted({c.type for c in diff.resources})
    for rtype in types:
        body.append(f"  {rtype}")
        for kind in (ADDED, REMOVED, CHANGED):
            for c in diff.resources_by_type(kind).get(rtype, []):
                detail = [*c.properties, *c.attributes]
                if c.old_type:
                    detail.insert(0, f"Type {c.old_type} -> {c.type}")
                body.append(f"    {sign[kind]} {c.logical_id}" + (f" ({', '.join(detail)})" if detail else ""))
    counts = " ".join(f"{sign[k]}{sum(1 for c in diff.resources if c.kind == k)}" for k in (ADDED, REMOVED, CHANGED))
    section(f"Resources ({counts})", body)

    body = [f"  {sign[g.kind]} {g.describe()}" for g in diff.iam]
    body += [f"  {sign[m.kind]} managed policy {m.arn} on {m.principal}" for m in diff.managed_policies]
    section("IAM", body)

    section("Parameters", [f"  {sign.get(c.kind, '~')} {c.describe()}" for c in diff.parameters])

    body = []
    if diff.default_size:
        body.append(f"  ~ default size: {diff.default_size[0]} -> {diff.default_size[1]}")
    for sc in diff.sizes:
        if sc.kind == ADDED and sc.new:
            body.append(f"  + {sc.name}: {_size_line(sc.new)}")
        elif sc.kind == REMOVED and sc.old:
            body.append(f"  - {sc.name}: {_size_line(sc.old)}")
        elif sc.old and sc.new:
            fields = ", ".join(f"{f} {_show_value(getattr(sc.old, f))} -> {_show_value(getattr(sc.new, f))}" for f in sc.fields)
            body.append(f"  ~ {sc.name}: {fields}")
    section("Sizes", body)

    body = [f"  ~ {key}: {a} -> {b}" for key, (a, b) in diff.cost_basis.items()]
    width = max((len(cc.size) for cc in diff.costs), default=0)
    for cc in diff.costs:
        if cc.old is None:
            body.append(f"  + {cc.size:<{width}}  {_money(cc.new)}")
        elif cc.new is None:
            body.append(f"  - {cc.size:<{width}}  {_money(cc.old)}")
        else:
            percent = f", {cc.percent:+.1f}%" if cc.percent is not None else ""
            body.append(f"  ~ {cc.size:<{width}}  {_money(cc.old)} -> {_money(cc.new)} "
                        f"({_signed_money(cc.delta or 0.0)}{percent})")
    section("Monthly cost (USD)", body)

    body = [f"  + {r}" for r in diff.regions_added] + [f"  - {r}" for r in diff.regions_removed]
    section("Regions", body)

    body = []
    for manager in dict.fromkeys(c.manager for c in diff.software):
        body.append(f"  {manager}")
        body += [f"    {sign[c.kind]} {c.describe()}" for c in diff.software if c.manager == manager]
    section("Software", body)
    return "\n".join(lines) + "\n"
