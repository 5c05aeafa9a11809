"""The effective configuration of a CloudFormation template, for the security rules.

A protection can be set in many places: an instance's metadata options come
from its own properties, the launch template it names, a launch configuration,
an Auto Scaling group's mixed-instances overrides (each with its own launch
template) or an EC2 Fleet override; a bucket is opened by its policy, its ACL
or its ownership setting; an ingress rule can be inline or a resource of its
own, with a prefix list as its source; a policy can be inline, a resource that
names its roles, or a managed policy ARN. This module finds every such place
and says what applies there; ``rules`` judges it, and ``diff.versions`` lists
the IAM grants and ingress of two versions through it (one reader of a
template for the rules, the diff and ``deploy --dry-run``).

How values are read (``TemplateView.alts``):

- ``Fn::If``: both branches count: a setting is safe only if it is safe in
  every branch (conditions are not evaluated).
- ``Ref`` to a parameter: each of its ``AllowedValues``; without them the
  value is ``Unknown`` (the deployer chooses it), and so is an SSM parameter's
  value (an ``SsmParameter``, which keeps the parameter's name and default
  for the image rule), ``Fn::ImportValue``, ``Fn::Select`` and the like. Rules judge an
  unknown value conservatively (as if it were the weakest) and say so.
- ``Ref``/``Fn::GetAtt`` to a resource of the template: a ``ResourceRef``,
  followed where it matters (launch templates, launch configurations,
  security groups, prefix lists, buckets).
- ``Fn::Sub``/``Fn::Join``: a ``Text`` whose ``pattern`` is an IAM-style glob
  of what the string can be: pseudo parameters become fixed sample values
  (partition ``aws``, account ``123456789012``, region ``us-east-1``),
  resource attributes a token that matches nothing but itself, parameters and
  imports ``*``.
- ``Fn::FindInMap``: the mapping's value, or every value it could pick.
- ``{"Ref": "AWS::NoValue"}``: ``MISSING``, as if the key were not there.

Pure: no I/O, standard library only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Path = tuple[str | int, ...]

PSEUDO = {
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "arw-stack",
    "AWS::StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/arw-stack/0",
}
SSM_PARAMETER = "AWS::SSM::Parameter::Value<"
MAX_DEPTH = 24
MAX_ALLOWED_VALUES = 64  # a parameter allowing more is judged as unknown (bounds the work on hostile templates)

INSTANCE = "AWS::EC2::Instance"
LAUNCH_TEMPLATE = "AWS::EC2::LaunchTemplate"
LAUNCH_CONFIGURATION = "AWS::AutoScaling::LaunchConfiguration"
AUTO_SCALING_GROUP = "AWS::AutoScaling::AutoScalingGroup"
EC2_FLEET = "AWS::EC2::EC2Fleet"
SPOT_FLEET = "AWS::EC2::SpotFleet"
VOLUME = "AWS::EC2::Volume"
SECURITY_GROUP = "AWS::EC2::SecurityGroup"
SECURITY_GROUP_INGRESS = "AWS::EC2::SecurityGroupIngress"
PREFIX_LIST = "AWS::EC2::PrefixList"
BUCKET = "AWS::S3::Bucket"
BUCKET_POLICY = "AWS::S3::BucketPolicy"
IAM_PRINCIPALS = ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group")
IAM_POLICY_RESOURCES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy",
                        "AWS::IAM::UserPolicy", "AWS::IAM::GroupPolicy")


# --------------------------------------------------------------------------- values


class _Missing:
    """Not set (absent, or ``AWS::NoValue``)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


@dataclass(frozen=True)
class Unknown:
    """A value the template does not fix (a parameter, an import, something defined elsewhere)."""

    reason: str


@dataclass(frozen=True)
class SsmParameter(Unknown):
    """The value of a parameter of type ``AWS::SSM::Parameter::Value<...>``: resolved by CloudFormation
    from the SSM parameter named by ``default`` (or by the deployer), unknown to the rules."""

    parameter: str = ""
    default: Any = None


@dataclass(frozen=True)
class ResourceRef:
    """``Ref`` or ``Fn::GetAtt`` of a resource of this template."""

    name: str
    attribute: str | None = None

    def __str__(self) -> str:
        return f"{self.name}.{self.attribute}" if self.attribute else self.name


@dataclass(frozen=True)
class Text:
    """A string built by ``Fn::Sub`` or ``Fn::Join``: ``pattern`` is a glob of what it can be,
    ``shown`` how the template writes it, ``unknowns`` the reasons for each ``*`` it had to put in."""

    pattern: str
    shown: str
    unknowns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Alt:
    """One possible value of a template node and where it is (``notes``: how it was reached)."""

    value: Any
    path: Path
    notes: tuple[str, ...] = ()


def show(value: Any) -> str:
    """A value for people."""
    if isinstance(value, str):
        return value
    if isinstance(value, Text):
        return value.shown
    if isinstance(value, Unknown):
        return value.reason
    if isinstance(value, ResourceRef):
        return str(value)
    if value is MISSING:
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        return str(value)


def pattern_of(value: Any) -> tuple[str, tuple[str, ...]] | None:
    """(glob, reasons it is not fully known) for a string-like value; None for structures and MISSING."""
    if isinstance(value, bool):
        return ("true" if value else "false"), ()
    if isinstance(value, str):
        return value, ()
    if isinstance(value, int | float):
        return str(value), ()
    if isinstance(value, Text):
        return value.pattern, value.unknowns
    if isinstance(value, Unknown):
        return "*", (value.reason,)
    if isinstance(value, ResourceRef):
        return f"\u27e8{value}\u27e9", ()
    return None


_GLOB_CACHE: dict[tuple[str, bool], re.Pattern[str]] = {}


def glob_matches(pattern: str, text: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcard matching: ``*`` any run of characters, ``?`` one character, nothing else special."""
    key = (pattern, ignore_case)
    compiled = _GLOB_CACHE.get(key)
    if compiled is None:
        body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
        compiled = re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))
        if len(_GLOB_CACHE) < 4096:
            _GLOB_CACHE[key] = compiled
    return compiled.fullmatch(text) is not None


def is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def is_intrinsic(node: Any) -> bool:
    if not isinstance(node, Mapping) or len(node) != 1:
        return False
    key = next(iter(node))
    return key == "Ref" or key == "Condition" or (isinstance(key, str) and key.startswith("Fn::"))


# --------------------------------------------------------------------------- the template


class TemplateView:
    """Read access to a template dict with intrinsic functions resolved into alternatives."""

    def __init__(self, template: Mapping[str, Any]):
        self.template = template if isinstance(template, Mapping) else {}
        resources = self.template.get("Resources")
        self.resources: dict[str, Mapping[str, Any]] = {
            str(k): v for k, v in (resources.items() if isinstance(resources, Mapping) else ())
            if isinstance(v, Mapping)
        }
        parameters = self.template.get("Parameters")
        self.parameters: dict[str, Mapping[str, Any]] = {
            str(k): v for k, v in (parameters.items() if isinstance(parameters, Mapping) else ())
            if isinstance(v, Mapping)
        }
        mappings = self.template.get("Mappings")
        self.mappings: Mapping[str, Any] = mappings if isinstance(mappings, Mapping) else {}

    # -- resources

    def type_of(self, name: str) -> str | None:
        resource = self.resources.get(name)
        kind = resource.get("Type") if resource is not None else None
        return kind if isinstance(kind, str) else None

    def of_type(self, *types: str) -> list[str]:
        return [name for name in self.resources if self.type_of(name) in types]

    def properties(self, name: str) -> list[Alt]:
        """The alternatives of a resource's Properties (a dict, or MISSING)."""
        resource = self.resources.get(name)
        if resource is None or "Properties" not in resource:
            return [Alt(MISSING, ("Resources", name))]
        return self.alts(resource["Properties"], ("Resources", name, "Properties"))

    def named(self, kind: str, name_property: str, name: str) -> str | None:
        """The resource of type *kind* whose *name_property* is the literal *name*."""
        for logical in self.of_type(kind):
            for props in self.properties(logical):
                for alt in self.get(props, name_property):
                    if alt.value == name:
                        return logical
        return None

    # -- values

    def alts(self, node: Any, path: Path, depth: int = 0) -> list[Alt]:
        """Every value *node* can take, with where each comes from."""
        if depth > MAX_DEPTH:
            return [Alt(Unknown("a value nested too deeply to follow"), path)]
        if not is_intrinsic(node):
            return [Alt(node, path)]
        (function, argument), = node.items()
        if function == "Fn::If":
            if isinstance(argument, list) and len(argument) == 3:
                return (self.alts(argument[1], (*path, "Fn::If", 1), depth + 1)
                        + self.alts(argument[2], (*path, "Fn::If", 2), depth + 1))
            return [Alt(Unknown("a malformed Fn::If"), path)]
        if function == "Ref":
            return self._ref(argument, path)
        if function == "Fn::GetAtt":
            parts = argument.split(".", 1) if isinstance(argument, str) else argument
            if isinstance(parts, list) and len(parts) == 2 and isinstance(parts[0], str) and parts[0] in self.resources:
                return [Alt(ResourceRef(parts[0], str(parts[1])), path)]
            return [Alt(Unknown(f"Fn::GetAtt {show(argument)}"), path)]
        if function == "Fn::FindInMap":
            return self._find_in_map(argument, path, depth)
        if function in ("Fn::Sub", "Fn::Join"):
            return [Alt(self.text(node, path, depth), path)]
        if function == "Fn::ImportValue":
            return [Alt(Unknown(f"Fn::ImportValue {show(self.text_or_unknown(argument, path, depth))}"), path)]
        return [Alt(Unknown(function), path)]

    def _ref(self, name: Any, path: Path) -> list[Alt]:
        if not isinstance(name, str):
            return [Alt(Unknown(f"Ref {show(name)}"), path)]
        if name == "AWS::NoValue":
            return [Alt(MISSING, path)]
        if name in PSEUDO:
            return [Alt(Text(PSEUDO[name], "${" + name + "}"), path)]
        if name in self.parameters:
            return self._parameter(name, path)
        if name in self.resources:
            return [Alt(ResourceRef(name), path)]
        return [Alt(Unknown(f"Ref {name}"), path)]

    def _parameter(self, name: str, path: Path) -> list[Alt]:
        parameter = self.parameters[name]
        kind = str(parameter.get("Type", "String"))
        allowed = parameter.get("AllowedValues")
        if not kind.startswith(SSM_PARAMETER) and isinstance(allowed, list) and 0 < len(allowed) <= MAX_ALLOWED_VALUES:
            return [Alt(value, path, (f"allowed by parameter {name}",)) for value in allowed]
        if kind.startswith(SSM_PARAMETER):
            default = parameter.get("Default")
            where = f" {show(default)}" if default is not None else ""
            return [Alt(SsmParameter(f"the SSM parameter{where} (parameter {name})", name, default), path)]
        default = parameter.get("Default")
        suffix = f", default {show(default)}" if default is not None else ""
        return [Alt(Unknown(f"parameter {name}{suffix}, chosen at deploy time"), path)]

    def _find_in_map(self, argument: Any, path: Path, depth: int) -> list[Alt]:
        if not (isinstance(argument, list) and len(argument) >= 3 and isinstance(argument[0], str)):
            return [Alt(Unknown("a malformed Fn::FindInMap"), path)]
        mapping = self.mappings.get(argument[0])
        if not isinstance(mapping, Mapping):
            return [Alt(Unknown(f"mapping {argument[0]}, not in the template"), path)]
        out: list[Alt] = []
        for top in self._keys(mapping, argument[1], path, depth):
            level = mapping.get(top)
            if not isinstance(level, Mapping):
                continue
            for second in self._keys(level, argument[2], path, depth):
                if second in level:
                    out += [Alt(a.value, path, (*a.notes, f"from mapping {argument[0]}"))
                            for a in self.alts(level[second], ("Mappings", argument[0], top, second), depth + 1)]
        return out or [Alt(Unknown(f"mapping {argument[0]} has no such key"), path)]

    def _keys(self, mapping: Mapping[str, Any], key: Any, path: Path, depth: int) -> list[str]:
        keys = [a.value for a in self.alts(key, path, depth + 1)]
        if all(isinstance(k, str) for k in keys):
            return [k for k in keys if k in mapping] or list(keys)
        return [str(k) for k in mapping]  # chosen at deploy time: any entry

    def text_or_unknown(self, node: Any, path: Path, depth: int = 0) -> Any:
        alts = self.alts(node, path, depth + 1)
        return alts[0].value if len(alts) == 1 else Unknown("one of several values")

    def text(self, node: Mapping[str, Any], path: Path, depth: int = 0) -> Text | Unknown:
        """``Fn::Sub`` / ``Fn::Join`` as a ``Text``."""
        (function, argument), = node.items()
        if function == "Fn::Join":
            if not (isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str)
                    and isinstance(argument[1], list)):
                return Unknown(f"Fn::Join {show(argument)}")
            patterns: list[str] = []
            shown: list[str] = []
            joined_unknowns: list[str] = []
            for i, item in enumerate(argument[1]):
                part = self._part(item, (*path, "Fn::Join", 1, i), depth)
                patterns.append(part[0])
                shown.append(part[1])
                joined_unknowns += part[2]
            return Text(argument[0].join(patterns), argument[0].join(shown), tuple(joined_unknowns))
        if isinstance(argument, str):
            source, variables = argument, {}
        elif (isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str)
              and isinstance(argument[1], Mapping)):
            source, variables = argument
        else:
            return Unknown(f"Fn::Sub {show(argument)}")
        pattern: list[str] = []
        unknowns: list[str] = []
        position = 0
        for match in re.finditer(r"\$\{([^}]*)\}", source):
            pattern.append(source[position:match.start()])
            position = match.end()
            name = match.group(1).strip()
            if name.startswith("!"):
                pattern.append("${" + name[1:] + "}")
                continue
            if name in variables:
                part = self._part(variables[name], (*path, "Fn::Sub", 1, name), depth)
            else:
                part = self._variable(name, path)
            pattern.append(part[0])
            unknowns += part[2]
        pattern.append(source[position:])
        return Text("".join(pattern), source, tuple(unknowns))

    def _part(self, node: Any, path: Path, depth: int) -> tuple[str, str, tuple[str, ...]]:
        alts = self.alts(node, path, depth + 1)
        if len(alts) == 1:
            found = pattern_of(alts[0].value)
            if found is not None:
                return found[0], show(alts[0].value), found[1]
        return "*", show(node), (f"{show(node)} has several values",)

    def _variable(self, name: str, path: Path) -> tuple[str, str, tuple[str, ...]]:
        if name in PSEUDO:
            return PSEUDO[name], "${" + name + "}", ()
        if name in self.parameters:
            alts = self._parameter(name, path)
            if len(alts) == 1:
                found = pattern_of(alts[0].value)
                if found is not None:
                    return found[0], "${" + name + "}", found[1]
            return "*", "${" + name + "}", (f"parameter {name}",)
        base = name.split(".", 1)[0]
        if base in self.resources:
            return f"\u27e8{name}\u27e9", "${" + name + "}", ()
        return "*", "${" + name + "}", (f"${{{name}}}",)

    # -- navigation over alternatives

    def get(self, parents: Alt | Iterable[Alt], key: str) -> list[Alt]:
        """The alternatives of ``parent[key]`` for every alternative parent (MISSING where absent,
        with the parent's path, the place where the key would go)."""
        out: list[Alt] = []
        for parent in ([parents] if isinstance(parents, Alt) else parents):
            value = parent.value
            if isinstance(value, Mapping) and not is_intrinsic(value):
                if key in value:
                    out += [Alt(a.value, a.path, parent.notes + a.notes)
                            for a in self.alts(value[key], (*parent.path, key))]
                else:
                    out.append(Alt(MISSING, parent.path, parent.notes))
            elif isinstance(value, Unknown):
                out.append(Alt(Unknown(value.reason), parent.path, parent.notes))
            elif isinstance(value, Text):
                out.append(Alt(Unknown(f"{value.shown}"), parent.path, parent.notes))
            else:  # MISSING, or not an object (cfn-lint reports the type error)
                out.append(Alt(MISSING, parent.path, parent.notes))
        return out

    def elements(self, parents: Alt | Iterable[Alt]) -> list[Alt]:
        """The members of a list value across alternatives (``AWS::NoValue`` members dropped; a
        single object where a list is expected counts as its only member)."""
        out: list[Alt] = []
        for parent in ([parents] if isinstance(parents, Alt) else parents):
            value = parent.value
            if isinstance(value, list):
                for i, item in enumerate(value):
                    out += [Alt(a.value, a.path, parent.notes + a.notes)
                            for a in self.alts(item, (*parent.path, i)) if a.value is not MISSING]
            elif value is MISSING:
                continue
            else:
                out.append(parent)
        return out

    def document(self, alt: Alt) -> Alt:
        """A policy document given as a JSON string, parsed (CloudFormation accepts both)."""
        if isinstance(alt.value, str):
            try:
                parsed = json.loads(alt.value)
            except ValueError:
                return Alt(Unknown("a policy document that is not valid JSON"), alt.path, alt.notes)
            return Alt(parsed, alt.path, (*alt.notes, "policy given as a JSON string"))
        return alt

    def resource_of(self, alt: Alt, *types: str) -> str | None:
        """The logical id *alt* refers to when it is a Ref/GetAtt of a resource of one of *types*."""
        value = alt.value
        if isinstance(value, ResourceRef) and (not types or self.type_of(value.name) in types):
            return value.name
        return None


# --------------------------------------------------------------------------- launches (EC2 instances)


@dataclass(frozen=True)
class Layer:
    """One place that sets an instance's launch configuration, in order of precedence.

    ``settings`` is the object holding the properties (LaunchTemplateData, the instance's
    Properties, a fleet override, a launch configuration); ``unknown`` says why there is none to
    read (a launch template or configuration defined outside the template)."""

    label: str
    resource: str
    settings: Alt | None
    unknown: str | None = None
    metadata: bool = True
    block_devices: bool = True
    at: Path = ()  # where an unknown layer is named

    @property
    def path(self) -> Path:
        if self.settings is not None:
            return self.settings.path
        if self.at:
            return self.at
        return ("Resources", self.resource, "Properties") if self.resource else ()


@dataclass(frozen=True)
class Launch:
    """A way the template launches EC2 instances, with its layers, lowest precedence first."""

    resource: str
    label: str
    layers: tuple[Layer, ...]


def _launch_template_layers(view: TemplateView, spec: Alt, label: str) -> list[Layer]:
    """A LaunchTemplate specification -> the layer(s) it stands for (one per data alternative).

    A launch template defined in the template has one version on a new stack, so every version
    reference ($Latest, $Default, LatestVersionNumber, DefaultVersionNumber, 1) means its
    LaunchTemplateData."""
    if spec.value is MISSING:
        return []
    if isinstance(spec.value, Unknown):
        return [Layer(f"the launch template of {label}", "", None, unknown=spec.value.reason, at=spec.path)]
    named = [a for a in view.get(spec, "LaunchTemplateId") + view.get(spec, "LaunchTemplateName")
             if a.value is not MISSING]
    if not named:
        return [Layer(f"the launch template of {label}", "", None, unknown="a launch template specification that names none",
                      at=spec.path)]
    layers: list[Layer] = []
    for alt in named:
        logical = view.resource_of(alt, LAUNCH_TEMPLATE)
        if logical is None and isinstance(alt.value, str):
            logical = view.named(LAUNCH_TEMPLATE, "LaunchTemplateName", alt.value)
        if logical is None:
            what = show(alt.value) if not isinstance(alt.value, Unknown) else alt.value.reason
            layers.append(Layer(f"launch template {what}", "", None,
                                unknown=f"launch template {what} (defined outside this template)", at=alt.path))
            continue
        for props in view.properties(logical):
            for data in view.get(props, "LaunchTemplateData"):
                layers.append(Layer(f"launch template {logical}", logical, data))
    return layers


def _launch_configuration_layers(view: TemplateView, name: Alt, label: str) -> list[Layer]:
    logical = view.resource_of(name, LAUNCH_CONFIGURATION)
    if logical is None and isinstance(name.value, str):
        logical = view.named(LAUNCH_CONFIGURATION, "LaunchConfigurationName", name.value)
    if logical is None:
        what = name.value.reason if isinstance(name.value, Unknown) else show(name.value)
        return [Layer(f"launch configuration {what}", "", None,
                      unknown=f"launch configuration {what} (defined outside this template)", at=name.path)]
    return [Layer(f"launch configuration {logical}", logical, props) for props in view.properties(logical)]


def launches(view: TemplateView) -> list[Launch]:
    """Every way the template launches instances: instances, Auto Scaling groups (launch
    configuration, launch template, mixed-instances policy and each override's own launch
    template), EC2 Fleets (each launch template config and override) and Spot Fleets (launch
    specifications and launch template configs)."""
    out: list[Launch] = []
    for name in view.of_type(INSTANCE):
        for props in view.properties(name):
            own = Layer(f"instance {name}", name, props)
            specs = view.get(props, "LaunchTemplate")
            for spec in specs:
                templates = _launch_template_layers(view, spec, f"instance {name}")
                if not templates:
                    out.append(Launch(name, f"instance {name}", (own,)))
                for template in templates:
                    out.append(Launch(name, f"instance {name}", (template, own)))
    for name in view.of_type(AUTO_SCALING_GROUP):
        label = f"Auto Scaling group {name}"
        for props in view.properties(name):
            found = False
            for config in view.get(props, "LaunchConfigurationName"):
                if config.value is not MISSING:
                    found = True
                    out += [Launch(name, label, (layer,)) for layer in _launch_configuration_layers(view, config, label)]
            for spec in view.get(props, "LaunchTemplate"):
                for layer in _launch_template_layers(view, spec, label):
                    found = True
                    out.append(Launch(name, label, (layer,)))
            for policy in view.get(props, "MixedInstancesPolicy"):
                if policy.value is MISSING:
                    continue
                found = True
                mixed = view.get(policy, "LaunchTemplate")
                for spec in view.get(mixed, "LaunchTemplateSpecification"):
                    out += [Launch(name, label, (layer,)) for layer in _launch_template_layers(view, spec, label)]
                for i, override in enumerate(view.elements(view.get(mixed, "Overrides")), start=1):
                    for spec in view.get(override, "LaunchTemplateSpecification"):
                        own_label = f"{label} (mixed-instances override {i})"
                        out += [Launch(name, own_label, (layer,))
                                for layer in _launch_template_layers(view, spec, own_label)]
            if not found:
                out.append(Launch(name, label, (Layer(label, name, None, unknown="an instance or launch setting "
                                                                                  "this template does not name"),)))
    for name in view.of_type(EC2_FLEET):
        label = f"EC2 Fleet {name}"
        for props in view.properties(name):
            for i, config in enumerate(view.elements(view.get(props, "LaunchTemplateConfigs")), start=1):
                config_label = f"{label} (launch template config {i})"
                bases = [layer for spec in view.get(config, "LaunchTemplateSpecification")
                         for layer in _launch_template_layers(view, spec, config_label)]
                if not bases:
                    bases = [Layer(config_label, name, None, unknown="a launch template config without a launch template")]
                overrides = view.elements(view.get(config, "Overrides"))
                for base in bases:
                    if not overrides:
                        out.append(Launch(name, config_label, (base,)))
                    for j, override in enumerate(overrides, start=1):
                        own = Layer(f"{label} override {j} of launch template config {i}", name, override)
                        out.append(Launch(name, f"{label} (launch template config {i}, override {j})", (base, own)))
    for name in view.of_type(SPOT_FLEET):
        label = f"Spot Fleet {name}"
        for props in view.properties(name):
            data = view.get(props, "SpotFleetRequestConfigData")
            for i, spec in enumerate(view.elements(view.get(data, "LaunchSpecifications")), start=1):
                spec_label = f"{label} (launch specification {i})"
                out.append(Launch(name, spec_label, (Layer(spec_label, name, spec, metadata=False),)))
            for i, config in enumerate(view.elements(view.get(data, "LaunchTemplateConfigs")), start=1):
                config_label = f"{label} (launch template config {i})"
                for spec in view.get(config, "LaunchTemplateSpecification"):
                    out += [Launch(name, config_label, (layer,))
                            for layer in _launch_template_layers(view, spec, config_label)]
    return out


def launch_settings(view: TemplateView) -> list[Layer]:
    """Every object that carries instance settings on its own: each launch template's data, each
    launch configuration, each EC2 Fleet override and each Spot Fleet launch specification
    (checked even when nothing in the template launches from them: anyone can)."""
    out: list[Layer] = []
    for name in view.of_type(LAUNCH_TEMPLATE):
        for props in view.properties(name):
            out += [Layer(f"launch template {name}", name, data) for data in view.get(props, "LaunchTemplateData")]
    for name in view.of_type(LAUNCH_CONFIGURATION):
        out += [Layer(f"launch configuration {name}", name, props) for props in view.properties(name)]
    for name in view.of_type(INSTANCE):
        out += [Layer(f"instance {name}", name, props) for props in view.properties(name)]
    for name in view.of_type(EC2_FLEET):
        for props in view.properties(name):
            for i, config in enumerate(view.elements(view.get(props, "LaunchTemplateConfigs")), start=1):
                for j, override in enumerate(view.elements(view.get(config, "Overrides")), start=1):
                    out.append(Layer(f"EC2 Fleet {name} override {j} of launch template config {i}", name, override))
    for name in view.of_type(SPOT_FLEET):
        for props in view.properties(name):
            data = view.get(props, "SpotFleetRequestConfigData")
            for i, spec in enumerate(view.elements(view.get(data, "LaunchSpecifications")), start=1):
                out.append(Layer(f"Spot Fleet {name} (launch specification {i})", name, spec, metadata=False))
    return out


def image_ids(view: TemplateView) -> list[tuple[Layer, Alt]]:
    """Every ``ImageId`` a launch setting gives (``launch_settings``: launch templates, launch
    configurations, instances, EC2 Fleet overrides, Spot Fleet specifications), each alternative
    apart; places that leave it unset are left out (a layer below, or EC2, supplies it)."""
    out: list[tuple[Layer, Alt]] = []
    for layer in launch_settings(view):
        if layer.settings is None:
            continue
        out += [(layer, alt) for alt in view.get(layer.settings, "ImageId") if alt.value is not MISSING]
    return out


@dataclass(frozen=True)
class Setting:
    """The value one field takes for a launch: ``value`` (MISSING when no layer sets it), where it is
    set (``path``, or where it would go), the layer that sets it and the layers below it."""

    value: Any
    path: Path
    layer: Layer | None
    below: tuple[Layer, ...] = ()
    notes: tuple[str, ...] = ()


def metadata_option(view: TemplateView, layers: tuple[Layer, ...], field: str) -> list[Setting]:
    """The possible values of ``MetadataOptions.<field>`` for an instance launched with *layers*.

    Each option is taken from the highest layer that sets it (instance or override, then launch
    template), as EC2 applies them one by one; a layer that sets MetadataOptions without this
    field leaves it to the layers below."""
    if not layers:
        return [Setting(MISSING, (), None)]
    top, rest = layers[-1], layers[:-1]
    if top.unknown is not None:
        return [Setting(Unknown(top.unknown), top.path, top, rest)]
    if not top.metadata or top.settings is None:
        return metadata_option(view, rest, field)
    out: list[Setting] = []
    below: list[Setting] | None = None
    for options in view.get(top.settings, "MetadataOptions"):
        values = ([] if options.value is MISSING or not isinstance(options.value, Mapping | Unknown | Text)
                  else view.get(options, field))
        for value in values:
            if value.value is not MISSING:
                out.append(Setting(value.value, value.path, top, rest, value.notes))
        if below is None and (not values or any(value.value is MISSING for value in values)):
            below = metadata_option(view, rest, field)  # what the layers below give, computed once
            out += below
    return out


@dataclass(frozen=True)
class BlockDevice:
    """One block device mapping with an ``Ebs`` volume: its device name and the ``Encrypted`` value."""

    layer: Layer
    device: Any
    encrypted: Any
    path: Path
    notes: tuple[str, ...] = ()


def block_devices(view: TemplateView, layer: Layer) -> list[BlockDevice]:
    """The EBS block devices *layer* maps (``NoDevice`` and instance-store mappings left out)."""
    if layer.settings is None or not layer.block_devices:
        return []
    out: list[BlockDevice] = []
    for mapping in view.elements(view.get(layer.settings, "BlockDeviceMappings")):
        if not isinstance(mapping.value, Mapping | Unknown):
            continue
        devices = view.get(mapping, "DeviceName")
        device = devices[0].value if len(devices) == 1 else Unknown("one of several device names")
        for ebs in view.get(mapping, "Ebs"):
            if ebs.value is MISSING:
                continue
            for encrypted in view.get(ebs, "Encrypted"):
                out.append(BlockDevice(layer, device, encrypted.value, encrypted.path if encrypted.value is not MISSING
                                       else ebs.path, encrypted.notes))
    return out


# --------------------------------------------------------------------------- network ingress


@dataclass(frozen=True)
class Ingress:
    """One inbound rule: inline in a security group or a SecurityGroupIngress resource."""

    resource: str
    group: str
    rule: Alt


def ingress_rules(view: TemplateView) -> list[Ingress]:
    out: list[Ingress] = []
    for name in view.of_type(SECURITY_GROUP):
        for props in view.properties(name):
            for rule in view.elements(view.get(props, "SecurityGroupIngress")):
                out.append(Ingress(name, name, rule))
    for name in view.of_type(SECURITY_GROUP_INGRESS):
        for props in view.properties(name):
            group = name
            for key in ("GroupId", "GroupName"):
                targets = [a for a in view.get(props, key) if a.value is not MISSING]
                if targets:
                    target = targets[0]
                    group = view.resource_of(target, SECURITY_GROUP) or show(target.value)
                    break
            out.append(Ingress(name, group, props))
    return out


def prefix_list_cidrs(view: TemplateView, source: Alt) -> list[Alt] | None:
    """The CIDRs of a prefix list defined in the template; None when it is defined elsewhere."""
    logical = view.resource_of(source, PREFIX_LIST)
    if logical is None:
        return None
    out: list[Alt] = []
    for props in view.properties(logical):
        for entry in view.elements(view.get(props, "Entries")):
            out += [a for a in view.get(entry, "Cidr") if a.value is not MISSING]
    return out


# --------------------------------------------------------------------------- buckets


def bucket_of(view: TemplateView, reference: Alt) -> str | None:
    """The bucket of this template that a BucketPolicy's ``Bucket`` names."""
    logical = view.resource_of(reference, BUCKET)
    if logical is None and isinstance(reference.value, str):
        logical = view.named(BUCKET, "BucketName", reference.value)
    return logical


# --------------------------------------------------------------------------- IAM


@dataclass(frozen=True)
class PolicyDocument:
    """An identity policy: whose (``resource``), how people should call it, the document itself."""

    resource: str
    label: str
    document: Alt
    policy: str | None = None  # an inline policy's PolicyName, as shown


def identity_policies(view: TemplateView) -> Iterator[PolicyDocument]:
    """Inline policies of roles, users and groups, and every IAM policy resource (AWS::IAM::Policy,
    ManagedPolicy, RolePolicy, UserPolicy, GroupPolicy), each document alternative apart."""
    for name in view.of_type(*IAM_PRINCIPALS):
        kind = (view.type_of(name) or "").rsplit("::", 1)[-1].lower()
        for props in view.properties(name):
            for policy in view.elements(view.get(props, "Policies")):
                policy_names = view.get(policy, "PolicyName")
                policy_name = show(policy_names[0].value) if policy_names else None
                label = f"{kind} {name} policy {policy_name}" if policy_name is not None else f"{kind} {name}"
                for document in view.get(policy, "PolicyDocument"):
                    yield PolicyDocument(name, label, view.document(document), policy_name)
    for name in view.of_type(*IAM_POLICY_RESOURCES):
        kind = (view.type_of(name) or "").rsplit("::", 1)[-1]
        attached = []
        for props in view.properties(name):
            for key in ("Roles", "Users", "Groups", "RoleName", "UserName", "GroupName"):
                for target in view.elements(view.get(props, key)):
                    attached.append(show(target.value))
            label = f"{kind} {name}" + (f" (attached to {', '.join(dict.fromkeys(attached))})" if attached else "")
            for document in view.get(props, "PolicyDocument"):
                yield PolicyDocument(name, label, view.document(document))


def statements(view: TemplateView, document: Alt) -> list[Alt]:
    return [s for s in view.elements(view.get(document, "Statement")) if isinstance(s.value, Mapping | Unknown)]


def managed_policy_arns(view: TemplateView) -> Iterator[tuple[str, Alt]]:
    """(role/user/group, ARN alternative) for every ManagedPolicyArns entry."""
    for name in view.of_type(*IAM_PRINCIPALS):
        for props in view.properties(name):
            for arn in view.elements(view.get(props, "ManagedPolicyArns")):
                yield name, arn


def trust_policies(view: TemplateView) -> Iterator[tuple[str, Alt]]:
    for name in view.of_type("AWS::IAM::Role"):
        for props in view.properties(name):
            for document in view.get(props, "AssumeRolePolicyDocument"):
                if document.value is not MISSING:
                    yield name, view.document(document)


def walk_strings(node: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    """Every string in a template with its path."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield from walk_strings(value, (*path, str(key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk_strings(value, (*path, i))
    elif isinstance(node, str):
        yield path, node
