#!/usr/bin/env python3
"""Runs the SAM transform on template.yaml, as CloudFormation does at deploy time, and checks the
HTTP API's routes: every /v1 route signed with IAM, the webhook route open.

`sam validate --lint` and cfn-lint check the template before the transform; a template they pass
can still be refused by the transform itself (an AWS_IAM route without `EnableIamAuthorizer` on its
API, for one). Code locations are replaced with a placeholder: the transform needs one, not the
code.
"""
import sys

from cfnlint.decode import decode
from samtranslator.translator.transform import transform


class NoManagedPolicies:
    def load(self):
        return {}


def main(path):
    template, matches = decode(path)
    if matches:
        sys.exit(f"sam-transform: {path} does not parse: {matches}")
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://placeholder/code.zip"
    try:
        out = transform(template, {}, NoManagedPolicies())
    except Exception as e:  # the transform's own errors say what is wrong
        sys.exit(f"sam-transform: {path} is refused by the SAM transform: {e}")
    problems = []
    routes = 0
    for resource in out["Resources"].values():
        body = resource.get("Properties", {}).get("Body", {})
        for route, methods in body.get("paths", {}).items():
            for method, operation in methods.items():
                routes += 1
                signed = any("AWS_IAM" in s for s in operation.get("security", []))
                if route.startswith("/v1") and not signed:
                    problems.append(f"{method.upper()} {route} is not signed with IAM")
                if route.startswith("/webhooks") and signed:
                    problems.append(f"{method.upper()} {route} asks providers for IAM signatures")
    if problems:
        sys.exit("sam-transform: " + "; ".join(problems))
    print(f"sam-transform: {path} transforms; {routes} routes, every /v1 route signed with IAM")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml")
