#!/usr/bin/env python3
"""Fails if template.yaml grants IAM permissions with wildcards.

Every policy statement in the template (SAM `Policies`, IAM roles and policies, queue and other
resource policies: any mapping with a `Statement`) that Allows must name its actions without `*`
and must not use `Resource: "*"`. `NotAction`/`NotResource` in an Allow are refused too (they grant
everything not listed), and so are broad AWS managed policies attached by name.

    .venv/bin/python scripts/check-iam.py [template.yaml]
    .venv/bin/python scripts/check-iam.py --self-test

Exit status: 0 clean, 1 findings, 2 usage or parse error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterator

import yaml

BROAD_MANAGED_POLICIES = ("AdministratorAccess", "PowerUserAccess")


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that understands CloudFormation's short-form intrinsic tags."""


def _construct_intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    if tag_suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{tag_suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_intrinsic)


def load(text: str) -> Any:
    return yaml.load(text, Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _walk(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _walk(child, f"{path}.{key}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from _walk(child, f"{path}[{i}]")


def _strings(value: Any) -> Iterator[str]:
    """Literal strings in an Action/Resource value, including inside Fn::Sub/Fn::Join/Fn::If."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key in ("Ref", "Fn::GetAtt", "Fn::ImportValue", "Fn::FindInMap", "Condition"):
                continue
            if key == "Fn::Sub":
                yield from _strings(item[0] if isinstance(item, list) else item)
            else:
                yield from _strings(item)


def findings(template: Any) -> list[str]:
    problems: list[str] = []
    if not isinstance(template, dict):
        return ["template is not a mapping"]
    for path, node in _walk(template.get("Resources", {}), "Resources"):
        if isinstance(node, dict) and "Statement" in node:
            for i, stmt in enumerate(_as_list(node["Statement"])):
                where = f"{path}.Statement[{i}]"
                if not isinstance(stmt, dict):
                    problems.append(f"{where}: statement is not a mapping")
                    continue
                if stmt.get("Effect", "Allow") != "Allow":
                    continue
                for key in ("NotAction", "NotResource"):
                    if key in stmt:
                        problems.append(f"{where}: Allow with {key} grants everything not listed")
                for action in _strings(stmt.get("Action", [])):
                    if "*" in action:
                        problems.append(f"{where}: wildcard action {action!r}")
                for resource in _strings(stmt.get("Resource", [])):
                    if resource.strip() == "*":
                        problems.append(f"{where}: Resource '*'")
        # SAM `Policies` / IAM `ManagedPolicyArns` may attach managed policies by name or ARN.
        if isinstance(node, dict):
            for key in ("Policies", "ManagedPolicyArns"):
                for item in _as_list(node.get(key, [])):
                    if isinstance(item, str) and (
                        item.endswith(BROAD_MANAGED_POLICIES) or "FullAccess" in item
                    ):
                        problems.append(f"{path}.{key}: broad managed policy {item!r}")
    return sorted(set(problems))


SELF_TEST_BAD = """
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - AmazonSQSFullAccess
        - Statement:
            - Effect: Allow
              Action: sqs:*
              Resource: !GetAtt Queue.Arn
            - Effect: Allow
              Action: [dynamodb:GetItem, "dynamodb:Batch*"]
              Resource: "*"
            - Effect: Allow
              NotAction: iam:PassRole
              Resource: !Sub "arn:${AWS::Partition}:s3:::bucket"
            - Effect: Allow
              Action: !If [Cond, "s3:Get*", s3:GetObject]
              Resource: !Ref Bucket
  Role:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyName: p
          PolicyDocument:
            Statement:
              Effect: Allow
              Action: logs:CreateLogStream
              Resource: [!Sub "*"]
"""

SELF_TEST_GOOD = """
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Action: [dynamodb:GetItem, dynamodb:Query]
              Resource: !GetAtt Table.Arn
            - Effect: Allow
              Action: sqs:SendMessage
              Resource: !Sub "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:q"
            - Effect: Deny
              Action: "*"
              Resource: "*"
"""


def self_test() -> int:
    bad = findings(load(SELF_TEST_BAD))
    expected = [
        "broad managed policy 'AmazonSQSFullAccess'",
        "wildcard action 'sqs:*'",
        "wildcard action 'dynamodb:Batch*'",
        "Statement[1]: Resource '*'",
        "Allow with NotAction",
        "wildcard action 's3:Get*'",
        "PolicyDocument.Statement[0]: Resource '*'",
    ]
    missing = [e for e in expected if not any(e in f for f in bad)]
    good = findings(load(SELF_TEST_GOOD))
    if missing or good or len(bad) != len(expected):
        print("check-iam self-test FAILED", file=sys.stderr)
        print(f"  not detected: {missing}", file=sys.stderr)
        print(f"  all findings on the bad template: {bad}", file=sys.stderr)
        print(f"  false positives on the good template: {good}", file=sys.stderr)
        return 1
    print(f"check-iam self-test: {len(bad)} planted problems found, clean template passes")
    return 0


def main(argv: list[str]) -> int:
    if argv[1:] == ["--self-test"]:
        return self_test()
    if len(argv) > 2 or (len(argv) == 2 and argv[1].startswith("-")):
        print(__doc__, file=sys.stderr)
        return 2
    path = Path(argv[1] if len(argv) == 2 else "template.yaml")
    try:
        template = load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        print(f"check-iam: cannot read {path}: {err}", file=sys.stderr)
        return 2
    problems = findings(template)
    statements = sum(
        len(_as_list(node["Statement"]))
        for _, node in _walk(template.get("Resources", {}), "Resources")
        if isinstance(node, dict) and "Statement" in node
    )
    if problems:
        for problem in problems:
            print(f"{path}: {problem}", file=sys.stderr)
        return 1
    print(f"check-iam: {path}: {statements} policy statements, no wildcard actions or resources")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
