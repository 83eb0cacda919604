"""`baton deploy --target aws`: the whole platform as the CloudFormation stack `baton-<deployment>`.

The stack is `infra/template.yaml`; what changes between deployments is its parameters. Three of
them are computed from the code, so a code change is a parameter change CloudFormation acts on:
`CodeKey` names the worker zip by its sha256 (a new key updates the function), `ImageTag` is a
content hash of the files `infra/Dockerfile` copies (a new tag is a new task definition; the
repository's tags are immutable, so an unchanged tag is never pushed twice), and `Deployment`
comes from `--deployment`. Everything else comes from a parameters file and `--parameter`, and
is checked against the template's own rules before any AWS call, with one message naming every
parameter at fault.

`--plan` stops there, offline: it prints the artefacts, the parameters and every resource the
template declares, conditions evaluated from the parameters alone, and calls nothing. A real
deployment goes through a change set that is printed before it is executed, so the output says
what CloudFormation created or changed. The template and the zip are uploaded to `CodeBucket`
(the template through S3, since it nears the 51,200 bytes CloudFormation accepts inline).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import os
import re
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml
from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from platform_defs.chain_clients import aws_client
from platform_defs.deploy import build_zip
from platform_defs.settings import AwsSettings, ConfigurationError, aws_settings

__all__ = [
    "ROOT",
    "Artefacts",
    "StackOptions",
    "StackPlan",
    "apply_change_set",
    "deploy_stack",
    "describe_changes",
    "evaluate_conditions",
    "image_tag",
    "load_template",
    "plan_stack",
    "prepare",
    "render_plan",
    "resolve_parameters",
]

ROOT = Path(__file__).resolve().parents[1]
"""The checkout: the template, the Dockerfile and the build context (a `pip install .` has none of them)."""
TEMPLATE = Path("infra/template.yaml")
IMAGE_CONTEXT = (
    "pyproject.toml",
    "README.md",
    "platform_defs",
    "lambda_workers",
    "dbt_like_sql",
    "workspace.yaml",
    "infra/Dockerfile",
    "infra/entrypoint.sh",
)
"""What `infra/Dockerfile` copies: the image changes exactly when one of these files does."""
_NOT_IN_IMAGE = ("__pycache__", "*.pyc", ".*", "dbt_packages")  # as .dockerignore keeps them out
COMPUTED = ("Deployment", "CodeKey", "ImageTag")
SHORT_TAGS = "Ref Condition Sub GetAtt If Equals Not And Or Select Join Split FindInMap ImportValue Base64 Cidr GetAZs"
MASK = "****"
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")


class TemplateLoader(yaml.SafeLoader):
    """PyYAML's safe loader plus CloudFormation's short tags, as their long forms (`!Ref X` is `{"Ref": "X"}`)."""


def _short_tag(name: str, loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if name == "GetAtt":
            value = value.split(".", 1)  # `!GetAtt Database.Endpoint.Address` is [Database, Endpoint.Address]
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name if name in ("Ref", "Condition") else f"Fn::{name}": value}


for _tag in SHORT_TAGS.split():
    TemplateLoader.add_constructor(f"!{_tag}", functools.partial(_short_tag, _tag))


def load_template(text: str) -> dict[str, Any]:
    try:
        template = yaml.load(text, Loader=TemplateLoader)
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{TEMPLATE} is not a template: {exc}") from exc
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise ConfigurationError(f"{TEMPLATE} declares no Resources")
    return template


def _text(value: Any) -> str:
    """A parameter value as CloudFormation takes it: lists comma-joined, YAML's booleans as `true`/`false`."""
    if isinstance(value, list | tuple):
        return ",".join(_text(item) for item in value)
    if isinstance(value, bool):
        return str(value).lower()
    return "" if value is None else str(value)


def _rule_broken(spec: Mapping[str, Any], value: str) -> str | None:
    """Which of the parameter's constraints `value` breaks (None if none), checked as CloudFormation checks them."""
    if "AllowedValues" in spec and value not in [_text(allowed) for allowed in spec["AllowedValues"]]:
        return f"is not one of its AllowedValues ({', '.join(_text(v) for v in spec['AllowedValues'])})"
    if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
        return f"does not match its AllowedPattern {spec['AllowedPattern']}"
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            return "is not a number"
        if not float(spec.get("MinValue", number)) <= number <= float(spec.get("MaxValue", number)):
            return f"is not between its MinValue {spec.get('MinValue', '-')} and MaxValue {spec.get('MaxValue', '-')}"
    return None


def resolve_parameters(template: Mapping[str, Any], given: Mapping[str, str | None]) -> dict[str, str | None]:
    """Every template parameter's value: `given`, else its Default. None keeps the stack's current value.

    Raises `ConfigurationError` naming the unknown parameters, else every required one missing,
    else every value that breaks its parameter's rules (a NoEcho value is never shown).
    """
    specs: dict[str, dict[str, Any]] = template.get("Parameters", {})
    if unknown := sorted(set(given) - set(specs)):
        raise ConfigurationError(f"{TEMPLATE} has no parameter {', '.join(unknown)}; it has {', '.join(specs)}")
    if missing := [name for name, spec in specs.items() if name not in given and "Default" not in spec]:
        raise ConfigurationError(
            f"these parameters have no default and are not set: {', '.join(missing)}; set them in the "
            "--parameters file (a YAML or JSON mapping of name to value) or with --parameter Name=Value"
        )
    values = {name: given[name] if name in given else _text(spec["Default"]) for name, spec in specs.items()}
    broken = []
    for name, value in values.items():
        if value is not None and (rule := _rule_broken(specs[name], value)):
            shown = MASK if specs[name].get("NoEcho") else repr(value)
            broken.append(f"{name}={shown} {rule}")
    if broken:
        raise ConfigurationError(f"invalid parameters: {'; '.join(broken)}")
    return values


def evaluate_conditions(template: Mapping[str, Any], values: Mapping[str, str | None]) -> dict[str, bool | None]:
    """Each condition's truth from the parameters alone; None when it depends on anything else.

    Pseudo parameters (`AWS::Region`...), a value kept from the stack and functions other than
    Equals, Not, And, Or and Condition are unknown offline, and unknown propagates.
    """
    conditions: dict[str, Any] = template.get("Conditions", {})
    results: dict[str, bool | None] = {}

    def evaluate(node: Any) -> str | bool | None:
        if not isinstance(node, dict):
            return _text(node)
        ((function, argument),) = node.items()
        if function == "Ref":
            return values.get(argument)
        if function == "Condition":
            if argument not in results:
                results[argument] = evaluate(conditions[argument])  # type: ignore[assignment]
            return results[argument]
        parts = [evaluate(part) for part in argument] if isinstance(argument, list) else []
        if function == "Fn::Equals":
            return None if None in parts else parts[0] == parts[1]
        if function == "Fn::Not":
            return None if parts[0] is None else not parts[0]
        if function == "Fn::And":
            return False if False in parts else None if None in parts else True
        if function == "Fn::Or":
            return True if True in parts else None if None in parts else False
        return None

    for name in conditions:
        evaluate({"Condition": name})
    return results


def _in_checkout(root: Path, relative: str | Path) -> Path:
    if not (root / relative).exists():
        raise ConfigurationError(f"{root / relative} is missing: deploy from a checkout of Baton, which has infra/")
    return root / relative


def image_context(root: Path = ROOT) -> list[str]:
    """The build context's files `infra/Dockerfile` copies, relative to `root`, sorted."""
    files = []
    for entry in IMAGE_CONTEXT:
        path = _in_checkout(root, entry)
        for file in [path] if path.is_file() else path.rglob("*"):
            relative = file.relative_to(root)
            if file.is_file() and not any(fnmatchcase(p, rule) for p in relative.parts for rule in _NOT_IN_IMAGE):
                files.append(relative.as_posix())
    return sorted(files)


def image_tag(root: Path = ROOT) -> str:
    """A hash of the context's names and contents (not of mtimes): the same sources always give the same tag."""
    digest = hashlib.sha256()
    for name in image_context(root):
        digest.update(f"{name}\0{hashlib.sha256((root / name).read_bytes()).hexdigest()}\n".encode())
    return digest.hexdigest()[:12]


@dataclass(frozen=True)
class StackOptions:
    """What `baton deploy --target aws` was asked: `parameters` are `Name=Value` pairs, over the file's."""

    deployment: str
    parameters_file: Path | None = None
    parameters: tuple[str, ...] = ()
    code_bucket: str | None = None
    image: bool = True
    account: str | None = None
    root: Path = ROOT


@dataclass(frozen=True)
class Artefacts:
    """What a deployment uploads and pushes, named by content: a change is a new name, a re-run uploads nothing."""

    code: bytes
    code_sha256: str
    template_body: str
    image_tag: str | None  # None: --no-image

    @property
    def code_key(self) -> str:
        return f"baton/lambda_workers-{self.code_sha256[:12]}.zip"

    @property
    def template_key(self) -> str:
        return f"baton/template-{hashlib.sha256(self.template_body.encode()).hexdigest()[:12]}.yaml"


@dataclass(frozen=True)
class StackPlan:
    """Everything `--plan` shows and a deployment sends, computed without AWS."""

    template: dict[str, Any]
    artefacts: Artefacts
    values: dict[str, str | None]
    defaults: frozenset[str]  # the parameters that take their Default
    conditions: dict[str, bool | None]

    @property
    def stack_name(self) -> str:
        """`baton-<deployment>`, also the name of the stack's image repository (the template's ImageRepository)."""
        return f"baton-{self.values['Deployment']}"

    def image_uri(self, region: str, account: str) -> str | None:
        """The image in the stack's repository; account and region are AWS's, so `--plan` passes placeholders."""
        tag = self.artefacts.image_tag
        return f"{account}.dkr.ecr.{region}.amazonaws.com/{self.stack_name}:{tag}" if tag else None


def _given_parameters(options: StackOptions) -> dict[str, str | None]:
    given: dict[str, str | None] = {}
    if options.parameters_file is not None:
        try:
            loaded = yaml.safe_load(options.parameters_file.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigurationError(f"--parameters {options.parameters_file}: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigurationError(f"--parameters {options.parameters_file} is not a mapping of name to value")
        for name, value in loaded.items():
            if isinstance(value, dict):
                raise ConfigurationError(f"--parameters {options.parameters_file}: {name} is a mapping, not a value")
            given[str(name)] = _text(value)
    for pair in options.parameters:
        name, equals, value = pair.partition("=")
        if not equals:
            raise ConfigurationError(f"--parameter {pair!r} is not Name=Value")
        given[name] = value
    if computed := [name for name in COMPUTED if name in given]:
        raise ConfigurationError(
            f"baton deploy computes {', '.join(computed)} (from --deployment and the code): do not set it"
        )
    return given


def prepare(options: StackOptions) -> StackPlan:
    """Build the artefacts and resolve the parameters, offline: everything a deployment sends but the calls."""
    given = _given_parameters(options)
    code = build_zip(options.root / "lambda_workers")
    sha256 = hashlib.sha256(code).hexdigest()
    tag = image_tag(options.root) if options.image else None
    body = _in_checkout(options.root, TEMPLATE).read_text()
    artefacts = Artefacts(code, sha256, body, tag)
    if options.code_bucket:
        given["CodeBucket"] = options.code_bucket
    given |= {"Deployment": options.deployment, "CodeKey": artefacts.code_key, "ImageTag": tag}
    template = load_template(body)
    values = resolve_parameters(template, given)
    defaults = frozenset(values) - set(given)
    return StackPlan(template, artefacts, values, defaults, evaluate_conditions(template, values))


def render_plan(plan: StackPlan, region: str, account: str) -> str:
    """The plan as `--plan` prints it: what would be uploaded, built, pushed and sent, and what the template creates."""
    artefacts, specs, uri = plan.artefacts, plan.template.get("Parameters", {}), plan.image_uri(region, account)
    bucket = plan.values.get("CodeBucket")
    lines = [
        f"worker zip: {len(artefacts.code)} bytes, sha256 {artefacts.code_sha256}",
        f"  uploaded to s3://{bucket}/{artefacts.code_key} (skipped if there already)",
        f"template: s3://{bucket}/{artefacts.template_key}",
    ]
    if uri:
        lines += [
            f"image: {uri} (tag: hash of the build context; skipped if the tag is in ECR)",
            f"  docker build --platform linux/amd64 -f infra/Dockerfile -t {uri} .",
            f"  docker push {uri}",
        ]
    else:
        lines.append("image: not built (--no-image): ImageTag stays the stack's (empty on its first deployment)")
    lines += [f"stack: {plan.stack_name} (a change set: CREATE if it does not exist, else UPDATE)", "parameters:"]
    for name, value in plan.values.items():
        shown = MASK if specs[name].get("NoEcho") else "(kept)" if value is None else repr(value)
        lines.append(f"  {name:<28} {shown}{' (default)' if name in plan.defaults else ''}")
    if plan.conditions:
        truth = {True: "true", False: "false", None: "unknown offline"}
        lines.append("conditions: " + ", ".join(f"{name} {truth[value]}" for name, value in plan.conditions.items()))
    lines.append("resources:")
    counts = {"create": 0, "skip": 0, "unknown": 0}
    for logical_id, resource in plan.template["Resources"].items():
        condition = resource.get("Condition")
        met = plan.conditions.get(condition) if condition else True
        verdict = {True: "create", False: "skip", None: "unknown"}[met]
        counts[verdict] += 1
        when = f"  if {condition}" if condition else ""
        lines.append(f"  {verdict:<8}{logical_id:<34}{resource['Type']}{when}")
    unknown = f"; {counts['unknown']} depend on values known only to AWS" if counts["unknown"] else ""
    lines.append(f"{counts['create']} resources to create; {counts['skip']} skipped by conditions{unknown}")
    lines.append("plan only: nothing was changed and no AWS call was made")
    return "\n".join(lines)


def plan_stack(options: StackOptions) -> int:
    """`--plan`: print the plan, offline (no credentials, no network), with placeholders for what only AWS knows."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "<region>"
    print(render_plan(prepare(options), region, options.account or "<account>"))
    return 0


def describe_changes(change_set: Mapping[str, Any]) -> list[str]:
    """A change set's changes, one a line: action, logical id, type and, for a modification, whether it replaces."""
    lines = []
    for change in change_set.get("Changes", []):
        resource = change["ResourceChange"]
        replacement = f"  replacement: {resource['Replacement']}" if resource.get("Replacement") else ""
        lines.append(
            f"  {resource['Action']:<8}{resource['LogicalResourceId']:<34}{resource['ResourceType']}{replacement}"
        )
    return lines


def apply_change_set(
    cfn: Any, stack_name: str, create: bool, parameters: list[dict[str, Any]], **template: str
) -> bool:
    """Create a change set, print it, execute it and wait for the stack; False if there was nothing to change.

    `template` is `TemplateURL=...` (or `TemplateBody=...`). CloudFormation reports an update with no
    changes either as a failed change set ("didn't contain changes"), deleted here, or by refusing to
    create one ("No updates are to be performed").
    """
    name = f"baton-{time.strftime('%Y%m%d-%H%M%S')}"
    kind = "CREATE" if create else "UPDATE"
    try:
        cfn.create_change_set(
            StackName=stack_name,
            ChangeSetName=name,
            ChangeSetType=kind,
            Parameters=parameters,
            Capabilities=["CAPABILITY_NAMED_IAM"],
            **template,
        )
    except ClientError as exc:
        if any(reason in str(exc) for reason in _NO_CHANGES):
            print(f"{stack_name}: nothing to change")
            return False
        raise ConfigurationError(f"CloudFormation refused the change set of {stack_name}: {exc}") from exc
    with contextlib.suppress(WaiterError):  # a failed change set says why below
        waiting = {"Delay": 5, "MaxAttempts": 120}
        cfn.get_waiter("change_set_create_complete").wait(
            StackName=stack_name, ChangeSetName=name, WaiterConfig=waiting
        )
    change_set = cfn.describe_change_set(StackName=stack_name, ChangeSetName=name)
    if change_set["Status"] != "CREATE_COMPLETE":
        reason = change_set.get("StatusReason", change_set["Status"])
        if any(no_changes in reason for no_changes in _NO_CHANGES):
            cfn.delete_change_set(StackName=stack_name, ChangeSetName=name)
            print(f"{stack_name}: nothing to change")
            return False
        raise ConfigurationError(f"change set {name} of {stack_name} failed: {reason}")
    print(f"change set {name} ({kind} {stack_name}):", *describe_changes(change_set), sep="\n")
    cfn.execute_change_set(StackName=stack_name, ChangeSetName=name)
    print(f"executing; waiting for {stack_name}" + (" (creating it takes 15 minutes or more: RDS)" if create else ""))
    waiter = "stack_create_complete" if create else "stack_update_complete"
    try:
        cfn.get_waiter(waiter).wait(StackName=stack_name, WaiterConfig={"Delay": 15, "MaxAttempts": 360})
    except WaiterError as exc:
        raise ConfigurationError(
            f"{stack_name} did not {kind.lower()}: {exc}; its events say why: "
            f"aws cloudformation describe-stack-events --stack-name {stack_name}"
        ) from exc
    return True


def _stack_exists(cfn: Any, stack_name: str) -> bool:
    """Whether a change set must UPDATE the stack (else CREATE it); a stack that cannot take one is refused."""
    try:
        status = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]["StackStatus"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return False
        raise
    if status == "ROLLBACK_COMPLETE":
        raise ConfigurationError(
            f"{stack_name} failed to create and cannot be updated: aws cloudformation delete-stack --stack-name "
            f"{stack_name} (the lake bucket is retained), then deploy again"
        )
    if status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
        raise ConfigurationError(f"{stack_name} is {status}: deploy again once it is done")
    return status != "REVIEW_IN_PROGRESS"  # a stack only ever given a CREATE change set is created by the next one


def _upload(s3: Any, bucket: str, key: str, body: bytes) -> None:
    try:
        if s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(body):
            return  # the key names the content's hash: the same size is the same object
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("404", "NoSuchKey", "NotFound"):
            raise
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    print(f"uploaded s3://{bucket}/{key} ({len(body)} bytes)")


def _docker(*arguments: str, root: Path, stdin: str | None = None) -> None:
    try:
        subprocess.run(["docker", *arguments], cwd=root, input=stdin, text=True, check=True)
    except FileNotFoundError as exc:
        raise ConfigurationError("docker is not installed: install it, or deploy with --no-image") from exc
    except subprocess.CalledProcessError as exc:
        raise ConfigurationError(f"docker {arguments[0]} failed (exit {exc.returncode})") from exc


def _push_image(ecr: Any, repository: str, tag: str, uri: str, root: Path) -> None:
    """Build and push the image unless its tag is in the repository (tags are immutable there)."""
    try:
        ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
        print(f"image {uri} is in ECR already")
        return
    except ecr.exceptions.ImageNotFoundException:
        pass
    _docker("build", "--platform", "linux/amd64", "-f", "infra/Dockerfile", "-t", uri, ".", root=root)
    login = ecr.get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(login["authorizationToken"]).decode().split(":", 1)
    _docker("login", "--username", user, "--password-stdin", login["proxyEndpoint"], root=root, stdin=password)
    _docker("push", uri, root=root)


def _repository_exists(ecr: Any, name: str) -> bool:
    try:
        ecr.describe_repositories(repositoryNames=[name])
    except ecr.exceptions.RepositoryNotFoundException:
        return False
    return True


def _cfn_parameters(plan: StackPlan, exists: bool, **overrides: str) -> list[dict[str, Any]]:
    """Every parameter's value, so the stack holds what the plan showed; a kept value uses the stack's."""
    values = plan.values | overrides
    return [
        {"ParameterKey": name, "UsePreviousValue": True}
        if value is None
        else {"ParameterKey": name, "ParameterValue": value}
        for name, value in values.items()
        if value is not None or exists  # on a first deployment a kept value is the Default: sent as nothing
    ]


def deploy_stack(options: StackOptions) -> int:
    """Upload the zip and the template, push the image, then create or update the stack through a change set.

    On the first deployment the image repository is the stack's own, so the stack is created first
    with ImageTag empty (the services start no task), then the image is pushed and the stack updated.
    """
    plan, settings = prepare(options), aws_settings()  # every parameter is checked before the first call
    try:
        _deploy(plan, settings, options)
    except (BotoCoreError, ClientError) as exc:
        raise ConfigurationError(f"deploying {plan.stack_name}: {exc}") from exc
    return 0


def _deploy(plan: StackPlan, settings: AwsSettings, options: StackOptions) -> None:
    region = settings.region
    cfn, s3, ecr = (aws_client(settings, service) for service in ("cloudformation", "s3", "ecr"))
    account = options.account or aws_client(settings, "sts").get_caller_identity()["Account"]
    artefacts, bucket, uri = plan.artefacts, str(plan.values["CodeBucket"]), plan.image_uri(region, account)
    _upload(s3, bucket, artefacts.code_key, artefacts.code)
    _upload(s3, bucket, artefacts.template_key, artefacts.template_body.encode())
    url = f"https://{bucket}.s3.{region}.amazonaws.com/{artefacts.template_key}"
    exists = _stack_exists(cfn, plan.stack_name)
    if uri:
        if not _repository_exists(ecr, plan.stack_name):
            print(f"first deployment: {plan.stack_name} with ImageTag empty creates the image repository")
            apply_change_set(
                cfn, plan.stack_name, not exists, _cfn_parameters(plan, exists, ImageTag=""), TemplateURL=url
            )
            exists = True
        _push_image(ecr, plan.stack_name, str(artefacts.image_tag), uri, options.root)
    apply_change_set(cfn, plan.stack_name, not exists, _cfn_parameters(plan, exists), TemplateURL=url)
    stack = cfn.describe_stacks(StackName=plan.stack_name)["Stacks"][0]
    print(f"{plan.stack_name} is {stack['StackStatus']}:")
    for output in stack.get("Outputs", []):
        print(f"  {output['OutputKey']:<28} {output['OutputValue']}")
