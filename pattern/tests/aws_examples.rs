//! The examples of the Amazon EventBridge user guide, as data: each pattern, the events it is
//! shown (or said) to match or not, and the page and section the facts come from.
//!
//! Events marked [`Origin::Page`] are the page's own example events with the outcome the page
//! gives. Events marked [`Origin::Ours`] are written here to exercise what the page states in
//! words (for instance "matches any event that doesn't have the prefix init"), since many
//! sections show a pattern but no event.
//!
//! One statement is deliberately not followed: the "Event pattern syntax" page says numbers
//! match by their text ("300, 300.0, and 3.0e2 are not considered equal"), while EventBridge's
//! open-source matcher (<https://github.com/aws/event-ruler>, `JsonRuleCompiler.writeRules`)
//! adds a numeric-equality matcher for every number in a pattern. Hookpost compares numbers as
//! numbers, as that matcher does.

use hookpost_pattern::EventPattern;
use serde_json::Value;

const PATTERNS: &str =
    "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html";
const FILTERING: &str = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html";
const OPERATORS: &str =
    "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html";
const ARRAYS: &str =
    "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-arrays.html";
const NULLS: &str =
    "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-null-values.html";
const RULER: &str = "https://github.com/aws/event-ruler/blob/main/README.md";

#[derive(Debug, Clone, Copy)]
enum Origin {
    /// The page shows this event and says whether the pattern matches it.
    Page,
    /// Written here to exercise what the page states in words.
    Ours,
}

struct Example {
    page: &'static str,
    section: &'static str,
    pattern: &'static str,
    events: &'static [(Origin, &'static str, bool)],
}

use Origin::{Ours, Page};

/// The EC2 state-change event that opens "Amazon EventBridge event patterns".
const EC2_TERMINATED: &str = r#"{
  "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
  "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
  "account": "111122223333", "time": "2017-12-22T18:43:48Z", "region": "us-west-1",
  "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
  "detail": { "instance-id": "i-1234567890abcdef0", "state": "terminated" }
}"#;

/// The Auto Scaling event of "Matching null values and empty strings".
const AUTOSCALING_LAUNCH: &str = r#"{
  "version": "0", "id": "3e3c153a-8339-4e30-8c35-687ebef853fe",
  "detail-type": "EC2 Instance Launch Successful", "source": "aws.autoscaling",
  "account": "123456789012", "time": "2015-11-11T21:31:47Z", "region": "us-east-1",
  "resources": [],
  "detail": { "eventVersion": "", "responseElements": null }
}"#;

/// The (truncated on the page) Macie alert of "Example events and event patterns".
const MACIE_ALERT: &str = r#"{
  "version": "0", "id": "3e355723-fca9-4de3-9fd7-154c289d6b59",
  "detail-type": "Macie Alert", "source": "aws.macie", "account": "123456789012",
  "time": "2017-04-24T22:28:49Z", "region": "us-east-1",
  "resources": [
    "arn:aws:macie:us-east-1:123456789012:trigger/trigger_id/alert/alert_id",
    "arn:aws:macie:us-east-1:123456789012:trigger/trigger_id"
  ],
  "detail": {
    "notification-type": "ALERT_CREATED", "name": "Scanning bucket policies",
    "tags": ["Custom_Alert", "Insider"], "risk-score": 80,
    "trigger": {
      "rule-arn": "arn:aws:macie:us-east-1:123456789012:trigger/trigger_id",
      "alert-type": "basic", "created-at": "2017-01-02 19:54:00.644000", "risk": 8
    },
    "created-at": "2017-04-18T00:21:12.059000"
  }
}"#;

/// The EC2 "pending" event of "Exists matching".
const EC2_PENDING: &str = r#"{
  "version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602",
  "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
  "account": "123456789012", "time": "2015-11-11T21:29:54Z", "region": "us-east-1",
  "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
  "detail": { "instance-id": "i-abcd1111", "state": "pending" }
}"#;

/// The second event of "Exists matching", whose `detail.c-count` is an object, not a leaf.
const C_COUNT_OBJECT_ONLY: &str = r#"{
  "detail-type": ["EC2 Instance State-change Notification"],
  "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-02ebd4584a2ebd341"],
  "detail": { "c-count": { "c1": 100 } }
}"#;

/// The first event the `exists: false` example of "Exists matching" is said to match.
const STATE_ONLY: &str = r#"{
  "detail-type": ["EC2 Instance State-change Notification"],
  "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-02ebd4584a2ebd341"],
  "detail": { "state": ["initializing", "running"] }
}"#;

/// The second event the `exists: false` example matches "because c-count isn't a leaf node"
/// (the page prints it without the comma after `state`'s array; added here).
const STATE_AND_C_COUNT_OBJECT: &str = r#"{
  "detail-type": ["EC2 Instance State-change Notification"],
  "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-02ebd4584a2ebd341"],
  "detail": { "state": ["initializing", "running"], "c-count": { "c1": 100 } }
}"#;

/// The sample event of the event-ruler README, which carries the fields the numeric, IP and
/// complex examples of "Content filtering" read.
const RULER_SAMPLE: &str = r#"{
  "version": "0", "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
  "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
  "account": "012345679012", "time": "2017-10-02T16:24:49Z", "region": "us-east-1",
  "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
  "detail": {
    "c-count": 5, "d-count": 3, "x-limit": 301.8, "source-ip": "10.0.0.33",
    "instance-id": "i-000000aaaaaa00000", "state": "running"
  }
}"#;

const EXAMPLES: &[Example] = &[
    // "Amazon EventBridge event patterns"
    Example {
        page: PATTERNS,
        section: "introduction: all EC2 instance-termination events",
        pattern: r#"{
          "source": ["aws.ec2"],
          "detail-type": ["EC2 Instance State-change Notification"],
          "detail": { "state": ["terminated"] }
        }"#,
        events: &[
            (Page, EC2_TERMINATED, true),
            (
                Ours,
                r#"{"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "detail": {"state": "running"}}"#,
                false,
            ),
            (
                Ours,
                r#"{"source": "aws.ec2", "detail": {"state": "terminated"}}"#,
                false,
            ),
        ],
    },
    Example {
        page: PATTERNS,
        section: "Matching event values: source is aws.ec2 or aws.fargate",
        pattern: r#"{ "source": ["aws.ec2", "aws.fargate"] }"#,
        events: &[
            (Ours, EC2_TERMINATED, true),
            (Ours, r#"{"source": "aws.fargate"}"#, true),
            (Ours, r#"{"source": "aws.lambda"}"#, false),
            (Ours, r#"{"source": "AWS.EC2"}"#, false),
        ],
    },
    Example {
        page: PATTERNS,
        section: "Example events and event patterns, Field matching: responseElements is null",
        pattern: r#"{
          "source": ["aws.autoscaling"],
          "detail-type": ["EC2 Instance Launch Successful"],
          "detail": { "responseElements": [null] }
        }"#,
        events: &[(Page, AUTOSCALING_LAUNCH, true)],
    },
    Example {
        page: PATTERNS,
        section: "Example events and event patterns, Value matching: risk score 80 and trigger risk 8",
        pattern: r#"{
          "source": ["aws.macie"],
          "detail-type": ["Macie Alert"],
          "detail": { "risk-score": [80], "trigger": { "risk": [8] } }
        }"#,
        events: &[
            (Page, MACIE_ALERT, true),
            (
                Ours,
                r#"{"source": "aws.macie", "detail-type": "Macie Alert", "detail": {"risk-score": 79, "trigger": {"risk": 8}}}"#,
                false,
            ),
        ],
    },
    // "Matching null values and empty strings"
    Example {
        page: NULLS,
        section: "eventVersion is an empty string",
        pattern: r#"{ "detail": { "eventVersion": [""] } }"#,
        events: &[
            (Page, AUTOSCALING_LAUNCH, true),
            (Ours, r#"{"detail": {"eventVersion": null}}"#, false),
        ],
    },
    Example {
        page: NULLS,
        section: "responseElements is null",
        pattern: r#"{ "detail": { "responseElements": [null] } }"#,
        events: &[
            (Page, AUTOSCALING_LAUNCH, true),
            (Ours, r#"{"detail": {"responseElements": ""}}"#, false),
            (Ours, r#"{"detail": {}}"#, false),
        ],
    },
    Example {
        page: NULLS,
        section: "Note: null values and empty strings are not interchangeable",
        pattern: r#"{ "detail": { "responseElements": [""] } }"#,
        events: &[(Ours, AUTOSCALING_LAUNCH, false)],
    },
    // "Arrays in Amazon EventBridge event patterns"
    Example {
        page: ARRAYS,
        section: "an event array matches when it shares a value with the pattern array",
        pattern: r#"{ "resources": [
          "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
          "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f",
          "arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f"
        ] }"#,
        events: &[
            (
                Page,
                r#"{ "resources": [
              "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-d5978ed4a025:autoScalingGroupName/ASGTerminate",
              "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"
            ] }"#,
                true,
            ),
            (
                Ours,
                r#"{ "resources": ["arn:aws:ec2:us-east-1:999999999999:instance/i-b188560f"] }"#,
                false,
            ),
            (Ours, r#"{ "resources": [] }"#, false),
        ],
    },
    // "Content filtering in Amazon EventBridge event patterns"
    Example {
        page: FILTERING,
        section: "Prefix matching: time starts with 2017-10-02",
        pattern: r#"{ "time": [ { "prefix": "2017-10-02" } ] }"#,
        events: &[
            (Page, r#"{"time": "2017-10-02T18:43:48Z"}"#, true),
            (Ours, r#"{"time": "2017-10-03T18:43:48Z"}"#, false),
        ],
    },
    Example {
        page: FILTERING,
        section: "Prefix matching while ignoring case: service starts with EventB in any case",
        pattern: r#"{ "detail": { "service": [ { "prefix": { "equals-ignore-case": "EventB" } } ] } }"#,
        events: &[
            (Ours, r#"{"detail": {"service": "EventBridge"}}"#, true),
            (Ours, r#"{"detail": {"service": "EVENTBRIDGE"}}"#, true),
            (Ours, r#"{"detail": {"service": "eventbus"}}"#, true),
            (Ours, r#"{"detail": {"service": "Events"}}"#, false),
        ],
    },
    Example {
        page: FILTERING,
        section: "Suffix matching: FileName ends with .png",
        pattern: r#"{ "FileName": [ { "suffix": ".png" } ] }"#,
        events: &[
            (Ours, r#"{"FileName": "image.png"}"#, true),
            (Ours, r#"{"FileName": "image.PNG"}"#, false),
            (Ours, r#"{"FileName": "image.png.txt"}"#, false),
        ],
    },
    Example {
        page: FILTERING,
        section: "Suffix matching while ignoring case: FileName ends with .png in any case",
        pattern: r#"{ "detail": { "FileName": [ { "suffix": { "equals-ignore-case": ".png" } } ] } }"#,
        events: &[
            (Ours, r#"{"detail": {"FileName": "image.PNG"}}"#, true),
            (Ours, r#"{"detail": {"FileName": "image.Png"}}"#, true),
            (Ours, r#"{"detail": {"FileName": "image.gif"}}"#, false),
        ],
    },
    Example {
        page: FILTERING,
        section: "Anything-but matching: a string",
        pattern: r#"{ "detail": { "state": [ { "anything-but": "initializing" } ] } }"#,
        events: &[
            (Ours, RULER_SAMPLE, true),
            (Ours, r#"{"detail": {"state": "initializing"}}"#, false),
        ],
    },
    Example {
        page: FILTERING,
        section: "Anything-but matching: a number",
        pattern: r#"{ "detail": { "x-limit": [ { "anything-but": 123 } ] } }"#,
        events: &[
            (Ours, RULER_SAMPLE, true),
            (Ours, r#"{"detail": {"x-limit": 123}}"#, false),
        ],
    },
    Example {
        page: FILTERING,
        section: "Anything-but matching: a list of strings",
        pattern: r#"{ "detail": { "state": [ { "anything-but": [ "stopped", "overloaded" ] } ] } }"#,
        events: &[
            (Ours, RULER_SAMPLE, true),
            (Ours, r#"{"detail": {"state": "stopped"}}"#, false),
            (Ours, r#"{"detail": {"state": "overloaded"}}"#, false),
        ],
    },
    Example {
        page: FILTERING,
        section: "Anything-but matching: a list of numbers",
        pattern: r#"{ "detail": { "x-limit": [ { "anything-but": [ 100, 200, 300 ] } ] } }"#,
        events: &[
            (Ours, RULER_SAMPLE, true),
            (Ours, r#"{"detail": {"x-limit": 200}}"#, false),
        ],
    },
    Example {
        page: FILTERING,
        section: "Anything-but matching: state does not start with init",
        pattern: r#"{ "detail": { "state": [ { "anything-but": { "prefix": "init" } } ] } }"#,
        events: &[
            (Ours, RULER_SAMPLE, true),
            (Ours, r#"{"detail": {"state": "initializing"}}"#, false),
        ],
    },
    Example {
        page: FILTERING,
        section: "Numeric matching: every numeric condition must hold",
        pattern: r#"{ "detail": {
          "c-count": [ { "numeric": [ ">", 0, "<=", 5 ] } ],
          "d-count": [ { "numeric": [ "<", 10 ] } ],
          "x-limit": [ { "numeric": [ "=", 3.018e2 ] } ]
        } }"#,
        events: &[
            (Ours, RULER_SAMPLE, true),
            (
                Ours,
                r#"{"detail": {"c-count": 0, "d-count": 3, "x-limit": 301.8}}"#,
                false,
            ),
            (
                Ours,
                r#"{"detail": {"c-count": 5, "d-count": 10, "x-limit": 301.8}}"#,
                false,
            ),
            (
                Ours,
                r#"{"detail": {"c-count": 5, "d-count": 3, "x-limit": 301.9}}"#,
                false,
            ),
        ],
    },
    Example {
        page: FILTERING,
        section: "IP address matching: 10.0.0.0/24 is 10.0.0.0 to 10.0.0.255",
        pattern: r#"{ "detail": { "sourceIPAddress": [ { "cidr": "10.0.0.0/24" } ] } }"#,
        events: &[
            (Ours, r#"{"detail": {"sourceIPAddress": "10.0.0.0"}}"#, true),
            (
                Ours,
                r#"{"detail": {"sourceIPAddress": "10.0.0.255"}}"#,
                true,
            ),
            (
                Ours,
                r#"{"detail": {"sourceIPAddress": "10.0.1.0"}}"#,
                false,
            ),
        ],
    },
    Example {
        page: FILTERING,
        section: "Exists matching: detail.state exists",
        pattern: r#"{ "detail": { "state": [ { "exists": true } ] } }"#,
        events: &[
            (Page, EC2_PENDING, true),
            (Page, C_COUNT_OBJECT_ONLY, false),
        ],
    },
    Example {
        page: FILTERING,
        section: "Exists matching: detail.c-count does not exist (an object is not a leaf)",
        pattern: r#"{ "detail": { "c-count": [ { "exists": false } ] } }"#,
        events: &[
            (Page, STATE_ONLY, true),
            (Page, STATE_AND_C_COUNT_OBJECT, true),
            (Ours, RULER_SAMPLE, false),
        ],
    },
    Example {
        page: FILTERING,
        section: "Complex example with multiple matching",
        pattern: r#"{
          "time": [ { "prefix": "2017-10-02" } ],
          "detail": {
            "state": [ { "anything-but": "initializing" } ],
            "c-count": [ { "numeric": [ ">", 0, "<=", 5 ] } ],
            "d-count": [ { "numeric": [ "<", 10 ] } ],
            "x-limit": [ { "anything-but": [ 100, 200, 300 ] } ]
          }
        }"#,
        events: &[
            (Ours, RULER_SAMPLE, true),
            (
                Ours,
                r#"{"time": "2017-10-02T16:24:49Z", "detail": {"state": "initializing", "c-count": 5, "d-count": 3, "x-limit": 301.8}}"#,
                false,
            ),
            (
                Ours,
                r#"{"time": "2017-10-02T16:24:49Z", "detail": {"state": "running", "c-count": 5, "d-count": 3, "x-limit": 300}}"#,
                false,
            ),
        ],
    },
    Example {
        page: FILTERING,
        section: "Note: a key given twice is evaluated by its last occurrence",
        pattern: r#"{ "detail": {
          "location": [ { "prefix": "us-" } ],
          "location": [ { "anything-but": "us-east" } ]
        } }"#,
        events: &[
            (Ours, r#"{"detail": {"location": "eu-west"}}"#, true),
            (Ours, r#"{"detail": {"location": "us-east"}}"#, false),
        ],
    },
    // "Comparison operators for use in event patterns" (the summary table)
    Example {
        page: OPERATORS,
        section: "And: Location is New York and Day is Monday",
        pattern: r#"{ "Location": [ "New York" ], "Day": [ "Monday" ] }"#,
        events: &[
            (Ours, r#"{"Location": "New York", "Day": "Monday"}"#, true),
            (Ours, r#"{"Location": "New York", "Day": "Tuesday"}"#, false),
            (Ours, r#"{"Location": "New York"}"#, false),
        ],
    },
    Example {
        page: OPERATORS,
        section: "Anything-but (begins with): Region is not in the US",
        pattern: r#"{ "Region": [ { "anything-but": { "prefix": "us-" } } ] }"#,
        events: &[
            (Ours, r#"{"Region": "eu-west-1"}"#, true),
            (Ours, r#"{"Region": "us-east-1"}"#, false),
        ],
    },
    Example {
        page: OPERATORS,
        section: "Anything-but (ends with): FileName does not end with .png",
        pattern: r#"{ "FileName": [ { "anything-but": { "suffix": ".png" } } ] }"#,
        events: &[
            (Ours, r#"{"FileName": "photo.jpg"}"#, true),
            (Ours, r#"{"FileName": "photo.png"}"#, false),
        ],
    },
    Example {
        page: OPERATORS,
        section: "Anything-but (ignore case): state is not initializing in any case",
        pattern: r#"{ "state": [ { "anything-but": { "equals-ignore-case": "initializing" } } ] }"#,
        events: &[
            (Ours, r#"{"state": "running"}"#, true),
            (Ours, r#"{"state": "INITIALIZING"}"#, false),
            (Ours, r#"{"state": "initializing"}"#, false),
        ],
    },
    Example {
        page: OPERATORS,
        section: "Anything-but using a wildcard: FilePath does not include /lib/",
        pattern: r#"{ "FilePath": [ { "anything-but": { "wildcard": "*/lib/*" } } ] }"#,
        events: &[
            (Ours, r#"{"FilePath": "/usr/bin/env"}"#, true),
            (Ours, r#"{"FilePath": "/usr/lib/libc.so"}"#, false),
        ],
    },
    Example {
        page: OPERATORS,
        section: "Begins with: Region is in the US",
        pattern: r#"{ "Region": [ { "prefix": "us-" } ] }"#,
        events: &[
            (Ours, r#"{"Region": "us-east-1"}"#, true),
            (Ours, r#"{"Region": "eu-west-1"}"#, false),
        ],
    },
    Example {
        page: OPERATORS,
        section: "Begins with (ignore case): service starts with eventb, in any case",
        pattern: r#"{ "service": [ { "prefix": { "equals-ignore-case": "eventb" } } ] }"#,
        events: &[
            (Ours, r#"{"service": "EventBridge"}"#, true),
            (Ours, r#"{"service": "SNS"}"#, false),
        ],
    },
    Example {
        page: OPERATORS,
        section: "Empty: LastName is empty",
        pattern: r#"{ "LastName": [ "" ] }"#,
        events: &[
            (Ours, r#"{"LastName": ""}"#, true),
            (Ours, r#"{"LastName": "Smith"}"#, false),
            (Ours, r#"{"LastName": null}"#, false),
        ],
    },
    Example {
        page: OPERATORS,
        section: "Equals: Name is Alice (exactly, case included)",
        pattern: r#"{ "Name": [ "Alice" ] }"#,
        events: &[
            (Ours, r#"{"Name": "Alice"}"#, true),
            (Ours, r#"{"Name": "alice"}"#, false),
        ],
    },
    Example {
        page: OPERATORS,
        section: "Equals (ignore case): Name is Alice",
        pattern: r#"{ "Name": [ { "equals-ignore-case": "alice" } ] }"#,
        events: &[
            (Ours, r#"{"Name": "Alice"}"#, true),
            (Ours, r#"{"Name": "ALICE"}"#, true),
            (Ours, r#"{"Name": "Alicia"}"#, false),
        ],
    },
    Example {
        page: OPERATORS,
        section: "Ends with (ignore case): service ends with tbridge, in any case",
        pattern: r#"{ "service": [ { "suffix": { "equals-ignore-case": "tBridge" } } ] }"#,
        events: &[
            (Ours, r#"{"service": "EventBridge"}"#, true),
            (Ours, r#"{"service": "EVENTBRIDGE"}"#, true),
            (Ours, r#"{"service": "EventBus"}"#, false),
        ],
    },
    Example {
        page: OPERATORS,
        section: "Exists: ProductName exists",
        pattern: r#"{ "ProductName": [ { "exists": true } ] }"#,
        events: &[
            (Ours, r#"{"ProductName": "Widget"}"#, true),
            (Ours, r#"{"Price": 100}"#, false),
        ],
    },
    Example {
        page: OPERATORS,
        section: "Does not exist: ProductName does not exist",
        pattern: r#"{ "ProductName": [ { "exists": false } ] }"#,
        events: &[
            (Ours, r#"{"Price": 100}"#, true),
            (Ours, r#"{"ProductName": "Widget"}"#, false),
        ],
    },
    Example {
        page: OPERATORS,
        section: "Not: Weather is anything but Raining",
        pattern: r#"{ "Weather": [ { "anything-but": [ "Raining" ] } ] }"#,
        events: &[
            (Ours, r#"{"Weather": "Sunny"}"#, true),
            (Ours, r#"{"Weather": "Raining"}"#, false),
        ],
    },
    Example {
        page: OPERATORS,
        section: "Null: UserID is null",
        pattern: r#"{ "UserID": [ null ] }"#,
        events: &[
            (Ours, r#"{"UserID": null}"#, true),
            (Ours, r#"{"UserID": "u-1"}"#, false),
            (Ours, r#"{}"#, false),
        ],
    },
    Example {
        page: OPERATORS,
        section: "Numeric (equals): Price is 100",
        pattern: r#"{ "Price": [ { "numeric": [ "=", 100 ] } ] }"#,
        events: &[
            (Ours, r#"{"Price": 100}"#, true),
            (Ours, r#"{"Price": 1.0e2}"#, true),
            (Ours, r#"{"Price": 101}"#, false),
            (Ours, r#"{"Price": "100"}"#, false),
        ],
    },
    Example {
        page: OPERATORS,
        section: "Numeric (range): Price is more than 10 and at most 20",
        pattern: r#"{ "Price": [ { "numeric": [ ">", 10, "<=", 20 ] } ] }"#,
        events: &[
            (Ours, r#"{"Price": 20}"#, true),
            (Ours, r#"{"Price": 10.5}"#, true),
            (Ours, r#"{"Price": 10}"#, false),
            (Ours, r#"{"Price": 20.01}"#, false),
        ],
    },
    Example {
        page: OPERATORS,
        section: "Or: PaymentType is Credit or Debit",
        pattern: r#"{ "PaymentType": [ "Credit", "Debit" ] }"#,
        events: &[
            (Ours, r#"{"PaymentType": "Debit"}"#, true),
            (Ours, r#"{"PaymentType": "Cash"}"#, false),
        ],
    },
    Example {
        page: OPERATORS,
        section: "Or (multiple fields): Location is New York, or Day is Monday",
        pattern: r#"{ "$or": [ { "Location": [ "New York" ] }, { "Day": [ "Monday" ] } ] }"#,
        events: &[
            (Ours, r#"{"Location": "Paris", "Day": "Monday"}"#, true),
            (Ours, r#"{"Location": "New York", "Day": "Friday"}"#, true),
            (Ours, r#"{"Location": "Paris", "Day": "Friday"}"#, false),
        ],
    },
    Example {
        page: OPERATORS,
        section: "Wildcard: any .png file in the folder dir",
        pattern: r#"{ "FileName": [ { "wildcard": "dir/*.png" } ] }"#,
        events: &[
            (Ours, r#"{"FileName": "dir/photo.png"}"#, true),
            (Ours, r#"{"FileName": "dir/photo.jpg"}"#, false),
            (Ours, r#"{"FileName": "other/photo.png"}"#, false),
        ],
    },
    // The event-ruler README, for what the user guide leaves implicit.
    Example {
        page: RULER,
        section: "JSON Array Matching: an array of objects is matched element by element",
        pattern: r#"{ "employees": { "firstName": [ "Anna" ] } }"#,
        events: &[(
            Page,
            r#"{"employees": [
              {"firstName": "John", "lastName": "Doe"},
              {"firstName": "Anna", "lastName": "Smith"},
              {"firstName": "Peter", "lastName": "Jones"}
            ]}"#,
            true,
        )],
    },
    Example {
        page: RULER,
        section: "JSON Array Matching: fields of different elements do not combine",
        pattern: r#"{ "employees": { "firstName": [ "Anna" ], "lastName": [ "Jones" ] } }"#,
        events: &[
            (
                Page,
                r#"{"employees": [
                  {"firstName": "John", "lastName": "Doe"},
                  {"firstName": "Anna", "lastName": "Smith"},
                  {"firstName": "Peter", "lastName": "Jones"}
                ]}"#,
                false,
            ),
            (
                Ours,
                r#"{"employees": [{"firstName": "Anna", "lastName": "Jones"}]}"#,
                true,
            ),
        ],
    },
    Example {
        page: RULER,
        section: "JSON Array Matching: multi-level arrays are flattened",
        pattern: r#"{ "employees": { "firstName": [ "Peter" ] } }"#,
        events: &[(
            Page,
            r#"{"employees": [
              [{"firstName": "John", "lastName": "Doe"}, {"firstName": "Anna", "lastName": "Smith"}],
              [{"firstName": "Peter", "lastName": "Jones"}]
            ]}"#,
            true,
        )],
    },
    Example {
        page: RULER,
        section: "Wildcard matching: Simple*Service",
        pattern: r#"{ "source": [ { "wildcard": "Simple*Service" } ] }"#,
        events: &[
            (Ours, r#"{"source": "SimpleNotificationService"}"#, true),
            (Ours, r#"{"source": "SimpleService"}"#, true),
            (Ours, r#"{"source": "SimpleServices"}"#, false),
        ],
    },
    Example {
        page: RULER,
        section: "The $or primitive, normal Or: source and (metricName or namespace)",
        pattern: r#"{
          "source": [ "aws.cloudwatch" ],
          "$or": [
            { "metricName": [ "CPUUtilization", "ReadLatency" ] },
            { "namespace": [ "AWS/EC2", "AWS/ES" ] }
          ]
        }"#,
        events: &[
            (
                Ours,
                r#"{"source": "aws.cloudwatch", "namespace": "AWS/EC2"}"#,
                true,
            ),
            (
                Ours,
                r#"{"source": "aws.cloudwatch", "metricName": "ReadLatency"}"#,
                true,
            ),
            (
                Ours,
                r#"{"source": "aws.cloudwatch", "namespace": "AWS/S3"}"#,
                false,
            ),
            (
                Ours,
                r#"{"source": "aws.ec2", "metricName": "CPUUtilization"}"#,
                false,
            ),
        ],
    },
    Example {
        page: RULER,
        section: "The $or primitive, parallel Or: two $or at different levels",
        pattern: r#"{
          "$or": [
            { "metricName": [ "CPUUtilization", "ReadLatency" ] },
            { "namespace": [ "AWS/EC2", "AWS/ES" ] }
          ],
          "detail": {
            "$or": [
              { "source": [ "aws.cloudwatch" ] },
              { "detail-type": [ "CloudWatch Alarm State Change" ] }
            ]
          }
        }"#,
        events: &[
            (
                Ours,
                r#"{"namespace": "AWS/ES", "detail": {"detail-type": "CloudWatch Alarm State Change"}}"#,
                true,
            ),
            (
                Ours,
                r#"{"namespace": "AWS/ES", "detail": {"detail-type": "Other"}}"#,
                false,
            ),
            (
                Ours,
                r#"{"namespace": "AWS/S3", "detail": {"source": "aws.cloudwatch"}}"#,
                false,
            ),
        ],
    },
    Example {
        page: RULER,
        section: "The $or primitive, nested Or and And",
        pattern: r#"{
          "source": [ "aws.cloudwatch" ],
          "$or": [
            { "metricName": [ "CPUUtilization", "ReadLatency" ] },
            {
              "metricType": [ "MetricType" ],
              "namespace": [ "AWS/EC2", "AWS/ES" ],
              "$or": [ { "metricId": [ 1234 ] }, { "spaceId": [ 1000 ] } ]
            },
            { "scope": [ "Service" ] }
          ]
        }"#,
        events: &[
            (
                Ours,
                r#"{"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/ES", "spaceId": 1000}"#,
                true,
            ),
            (
                Ours,
                r#"{"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/ES"}"#,
                false,
            ),
            (
                Ours,
                r#"{"source": "aws.cloudwatch", "scope": "Service"}"#,
                true,
            ),
            (
                Ours,
                r#"{"source": "aws.cloudwatch", "metricType": "MetricType", "metricId": 1234}"#,
                false,
            ),
        ],
    },
];

fn json(text: &str, what: &str) -> Value {
    match serde_json::from_str(text) {
        Ok(value) => value,
        Err(error) => panic!("{what} is not JSON ({error}): {text}"),
    }
}

#[test]
fn every_documented_example_matches_as_its_page_says() {
    let mut failures = Vec::new();
    for example in EXAMPLES {
        let pattern = match EventPattern::parse(example.pattern) {
            Ok(pattern) => pattern,
            Err(error) => {
                failures.push(format!(
                    "{} — {}: pattern refused: {error}",
                    example.page, example.section
                ));
                continue;
            }
        };
        for (index, (origin, event, expected)) in example.events.iter().enumerate() {
            let event = json(event, "an example event");
            if pattern.matches(&event) != *expected {
                failures.push(format!(
                    "{} — {}: event {index} ({origin:?}) should {}match",
                    example.page,
                    example.section,
                    if *expected { "" } else { "not " }
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
