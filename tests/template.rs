//! template.yaml and events/ kept true to the code: the route table, the function crates, the
//! settings the code reads, the table's indexes, and least-privilege IAM.

use std::collections::{BTreeMap, BTreeSet};

use serde_norway::Value;
use vidgate::function::Function;
use vidgate::http::routes::Auth;
use vidgate::http::{ROUTES, Router};

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn template() -> Value {
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    serde_norway::from_str(&text).unwrap()
}

/// `create-upload` → `CreateUploadFunction`.
fn resource_name(f: Function) -> String {
    let camel: String = f.name().split('-').map(|w| w[..1].to_uppercase() + &w[1..]).collect();
    format!("{camel}Function")
}

fn str_of(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        Value::Tagged(t) => str_of(&t.value),
        _ => None,
    }
}

/// Every IAM statement under `value` (function `Policies`, role policies, trust policies).
fn statements<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Mapping(map) => {
            if map.contains_key("Effect") && map.contains_key("Action") {
                out.push(value);
            }
            map.values().for_each(|v| statements(v, out));
        }
        Value::Sequence(seq) => seq.iter().for_each(|v| statements(v, out)),
        Value::Tagged(t) => statements(&t.value, out),
        _ => {}
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Sequence(seq) => seq.iter().filter_map(str_of).map(str::to_owned).collect(),
        other => str_of(other).map(str::to_owned).into_iter().collect(),
    }
}

#[test]
fn every_function_is_a_cargo_lambda_build_of_its_own_binary_and_nothing_else_is() {
    let t = template();
    let resources = t["Resources"].as_mapping().unwrap();
    let functions: BTreeSet<String> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(k, _)| k.as_str().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = Function::ALL.iter().map(|f| resource_name(*f)).collect();
    assert_eq!(functions, expected);
    for f in Function::ALL {
        let r = &resources[resource_name(f).as_str()];
        assert_eq!(r["Metadata"]["BuildMethod"], "makefile", "{}", f.name());
        // The Makefile's target for this resource copies this function's bootstrap.
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let out = std::process::Command::new("make")
            .args(["-n", "-C", root, &format!("build-{}", resource_name(f)), "ARTIFACTS_DIR=/artifacts"])
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .expect("make runs");
        let plan = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}: {}", f.name(), String::from_utf8_lossy(&out.stderr));
        assert!(plan.contains("infra/build-functions"), "{plan}");
        assert!(
            plan.contains(&format!("/lambda/{}/bootstrap\" \"/artifacts/bootstrap\"", f.name())),
            "{plan}"
        );
    }
    let globals = &t["Globals"]["Function"];
    assert_eq!(globals["Runtime"], "provided.al2023");
    assert_eq!(globals["Handler"], "bootstrap");
    assert_eq!(strings(&globals["Architectures"]), ["arm64"]);
    assert_eq!(globals["Tracing"], "Active");
    assert_eq!(globals["LoggingConfig"]["LogFormat"], "JSON");
}

#[test]
fn the_http_api_routes_are_exactly_the_route_table() {
    let t = template();
    let mut routes = BTreeMap::new();
    for (name, r) in t["Resources"].as_mapping().unwrap() {
        let Some(events) = r["Properties"]["Events"].as_mapping() else { continue };
        for event in events.values().filter(|e| e["Type"] == "HttpApi") {
            let p = &event["Properties"];
            let key = format!("{} {}", p["Method"].as_str().unwrap(), p["Path"].as_str().unwrap());
            let open = p["Auth"]["Authorizer"] == "NONE";
            // The backend's route: the authorizer, and the upload-link scope.
            let scoped = format!("{:?}", p["Auth"]["AuthorizationScopes"]).contains("UploadLinkScope");
            assert_eq!(scoped, key == "POST /v1/upload-links", "{key}");
            assert!(
                routes.insert(key.clone(), (name.as_str().unwrap().to_owned(), open)).is_none(),
                "{key} twice"
            );
        }
    }
    let expected: BTreeMap<String, (String, bool)> = ROUTES
        .iter()
        .map(|r| {
            let open = matches!(r.auth(), Auth::PlaybackToken | Auth::LinkToken);
            (r.key(), (resource_name(r.function().into()), open))
        })
        .collect();
    assert_eq!(routes, expected);
    assert_eq!(t["Resources"]["HttpApi"]["Properties"]["Auth"]["DefaultAuthorizer"], "JwtAuthorizer");
}

#[test]
fn each_route_is_throttled_by_its_class_with_the_defaults_the_local_gateway_applies() {
    use vidgate::http::routes::Throttle;
    let t = template();
    let api = &t["Resources"]["HttpApi"]["Properties"];
    let reference = |v: &Value| match v {
        Value::Tagged(t) if t.tag == "Ref" => str_of(&t.value).unwrap().to_owned(),
        other => panic!("{other:?} is no !Ref"),
    };
    let class_of = |settings: &Value| {
        let rate = reference(&settings["ThrottlingRateLimit"]);
        let burst = reference(&settings["ThrottlingBurstLimit"]);
        let class = Throttle::ALL
            .into_iter()
            .find(|c| rate == format!("{}RateLimit", c.name()))
            .unwrap_or_else(|| panic!("{rate} is no class's parameter"));
        assert_eq!(burst, format!("{}BurstLimit", class.name()));
        class
    };
    assert_eq!(class_of(&api["DefaultRouteSettings"]), Throttle::Read);
    let listed = api["RouteSettings"].as_mapping().unwrap();
    for route in ROUTES {
        let class = match listed.get(route.key()) {
            Some(settings) => class_of(settings),
            None => Throttle::Read,
        };
        assert_eq!(class, route.throttle(), "{}", route.key());
    }
    for key in listed.keys() {
        let key = key.as_str().unwrap();
        assert!(ROUTES.iter().any(|r| r.key() == key), "{key} is no route");
    }
    for class in Throttle::ALL {
        let limit = class.default_limit();
        let default =
            |what: &str| t["Parameters"][format!("{}{what}Limit", class.name())]["Default"].as_u64();
        assert_eq!(
            (default("Rate"), default("Burst")),
            (Some(u64::from(limit.rate)), Some(u64::from(limit.burst)))
        );
    }
}

fn reference(v: &Value) -> Option<String> {
    match v {
        Value::Tagged(t) if t.tag == "Ref" => str_of(&t.value).map(str::to_owned),
        _ => None,
    }
}

/// `!GetAtt X.Arn` → `X`.
fn arn_of(v: &Value) -> Option<String> {
    match v {
        Value::Tagged(t) if t.tag == "GetAtt" => str_of(&t.value)?.strip_suffix(".Arn").map(str::to_owned),
        _ => None,
    }
}

#[test]
fn s3_events_reach_their_function_through_an_encrypted_queue_with_a_dead_letter_queue() {
    let t = template();
    let r = &t["Resources"];
    let bucket = &r["VideoBucket"]["Properties"]["NotificationConfiguration"];
    let configs = bucket["QueueConfigurations"].as_sequence().unwrap();
    assert_eq!(configs.len(), 1);
    assert_eq!(str_of(&configs[0]["Event"]), Some("s3:ObjectCreated:*"));
    assert_eq!(arn_of(&configs[0]["Queue"]).as_deref(), Some("ObjectCreatedQueue"));
    assert!(bucket["LambdaConfigurations"].is_null(), "S3 must not invoke a function directly");
    assert_eq!(str_of(&r["VideoBucket"]["DependsOn"]), Some("ObjectCreatedQueuePolicy"));

    let queue = &r["ObjectCreatedQueue"]["Properties"];
    for name in ["ObjectCreatedQueue", "ObjectCreatedDeadLetterQueue", "ScheduleDeadLetterQueue"] {
        assert_eq!(r[name]["Type"], "AWS::SQS::Queue");
        assert_eq!(r[name]["Properties"]["SqsManagedSseEnabled"], true, "{name} is not encrypted");
    }
    let redrive = &queue["RedrivePolicy"];
    assert_eq!(arn_of(&redrive["deadLetterTargetArn"]).as_deref(), Some("ObjectCreatedDeadLetterQueue"));
    assert_eq!(reference(&redrive["maxReceiveCount"]).as_deref(), Some("EventMaxReceives"));
    assert_eq!(
        t["Parameters"]["EventMaxReceives"]["Default"].as_u64(),
        Some(u64::from(vidgate::events::MAX_RECEIVES))
    );
    // Lambda's advice for an SQS source: six times the function's timeout.
    let timeout = t["Globals"]["Function"]["Timeout"].as_u64().unwrap();
    assert!(queue["VisibilityTimeout"].as_u64().unwrap() >= 6 * timeout);
    // Dead letters outlive the messages they came from.
    assert!(
        r["ObjectCreatedDeadLetterQueue"]["Properties"]["MessageRetentionPeriod"].as_u64()
            > queue["MessageRetentionPeriod"].as_u64()
    );

    let policy = &r["ObjectCreatedQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"];
    let statements = policy.as_sequence().unwrap();
    assert_eq!(statements.len(), 1);
    let only = &statements[0];
    assert_eq!((str_of(&only["Effect"]), str_of(&only["Action"])), (Some("Allow"), Some("sqs:SendMessage")));
    assert_eq!(str_of(&only["Principal"]["Service"]), Some("s3.amazonaws.com"));
    assert!(!only["Condition"]["ArnEquals"]["aws:SourceArn"].is_null(), "any bucket could send");
    assert!(!only["Condition"]["StringEquals"]["aws:SourceAccount"].is_null());

    let events = r["OnObjectCreatedFunction"]["Properties"]["Events"].as_mapping().unwrap();
    assert_eq!(events.len(), 1);
    let mapping = events.values().next().unwrap();
    assert_eq!(mapping["Type"], "SQS");
    assert_eq!(arn_of(&mapping["Properties"]["Queue"]).as_deref(), Some("ObjectCreatedQueue"));
    assert_eq!(strings(&mapping["Properties"]["FunctionResponseTypes"]), ["ReportBatchItemFailures"]);
    // A batch fits the function's timeout at the probe budget; the queue hides a message for
    // six timeouts; a flood waits in the queue rather than taking the account's concurrency.
    assert_eq!(str_of(&mapping["Properties"]["BatchSize"]), Some("ObjectCreatedBatchSize"));
    let batch = t["Parameters"]["ObjectCreatedBatchSize"]["Default"].as_u64().unwrap();
    let timeout = r["OnObjectCreatedFunction"]["Properties"]["Timeout"].as_u64().unwrap();
    let probe_ms = t["Parameters"]["MaxProbeMilliseconds"]["Default"].as_u64().unwrap();
    assert!(
        (1..=10).contains(&batch) && batch * probe_ms * 3 <= timeout * 1000,
        "{batch} × {probe_ms} ms in {timeout} s"
    );
    assert!(r["ObjectCreatedQueue"]["Properties"]["VisibilityTimeout"].as_u64().unwrap() >= 6 * timeout);
    assert_eq!(
        str_of(&mapping["Properties"]["ScalingConfig"]["MaximumConcurrency"]),
        Some("ObjectCreatedMaxConcurrency")
    );
}

#[test]
fn no_stack_operation_deletes_videos_records_or_dead_letters() {
    let t = template();
    for name in ["VideoBucket", "VideoTable", "ObjectCreatedDeadLetterQueue", "ScheduleDeadLetterQueue"] {
        let resource = &t["Resources"][name];
        assert_eq!(
            (str_of(&resource["DeletionPolicy"]), str_of(&resource["UpdateReplacePolicy"])),
            (Some("Retain"), Some("Retain")),
            "{name}"
        );
    }
}

#[test]
fn the_sweep_schedule_retries_and_keeps_what_failed() {
    let t = template();
    let events = t["Resources"]["ExpireUploadsFunction"]["Properties"]["Events"].as_mapping().unwrap();
    let schedule = &events.values().next().unwrap()["Properties"];
    assert!(schedule["RetryPolicy"]["MaximumRetryAttempts"].as_u64().is_some_and(|n| n > 0));
    assert!(schedule["RetryPolicy"]["MaximumEventAgeInSeconds"].as_u64().is_some());
    assert_eq!(arn_of(&schedule["DeadLetterConfig"]["Arn"]).as_deref(), Some("ScheduleDeadLetterQueue"));
}

#[test]
fn every_function_queue_and_the_api_has_its_alarm_and_alarms_notify_the_topic() {
    let t = template();
    let r = t["Resources"].as_mapping().unwrap();
    let alarms: Vec<&Value> =
        r.values().filter(|v| v["Type"] == "AWS::CloudWatch::Alarm").map(|v| &v["Properties"]).collect();
    let watching = |namespace: &str, metric: &str, dimension: &str| -> Vec<String> {
        alarms
            .iter()
            .filter(|a| a["Namespace"] == namespace && a["MetricName"] == metric)
            .filter_map(|a| {
                let d = &a["Dimensions"][0];
                (d["Name"] == dimension).then(|| match &d["Value"] {
                    Value::Tagged(t) if t.tag == "GetAtt" => str_of(&t.value).unwrap().to_owned(),
                    other => reference(other).unwrap(),
                })
            })
            .collect()
    };
    for f in Function::ALL {
        let resource = resource_name(f);
        for metric in ["Errors", "Throttles"] {
            assert!(
                watching("AWS/Lambda", metric, "FunctionName").contains(&resource),
                "no {metric} alarm for {resource}"
            );
        }
    }
    let visible = watching("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName");
    for dlq in ["ObjectCreatedDeadLetterQueue.QueueName", "ScheduleDeadLetterQueue.QueueName"] {
        assert!(visible.iter().any(|v| v == dlq), "{dlq} is not watched");
    }
    assert_eq!(
        watching("AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName"),
        ["ObjectCreatedQueue.QueueName", "WebhookQueue.QueueName"]
    );
    let api = alarms.iter().find(|a| !a["Metrics"].is_null()).expect("the API 5xx alarm");
    let metrics: Vec<&str> = api["Metrics"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|m| str_of(&m["MetricStat"]["Metric"]["MetricName"]))
        .collect();
    assert_eq!(metrics, ["5xx", "Count"]);
    assert_eq!(reference(&api["Threshold"]).as_deref(), Some("ApiServerErrorPercent"));
    for alarm in &alarms {
        let Value::Tagged(actions) = &alarm["AlarmActions"] else { panic!("{alarm:?} notifies nobody") };
        assert_eq!(actions.tag, "If");
        assert!(format!("{:?}", actions.value).contains("AlarmTopicArn"));
    }
}

#[test]
fn the_size_and_quota_parameters_default_to_the_codes_defaults() {
    let t = template();
    let config = vidgate_local::config::for_local("b", "t");
    let default = |name: &str| t["Parameters"][name]["Default"].as_u64();
    assert_eq!(default("MaxVideoSizeBytes"), Some(config.max_video_size));
    assert_eq!(default("MaxOpenUploadsPerOwner"), Some(u64::from(config.quota.uploads)));
    assert_eq!(default("MaxBytesInFlightPerOwner"), Some(config.quota.bytes));
    assert_eq!(default("MaxStoredBytesPerOwner"), Some(config.quota.stored));
    assert_eq!(default("MaxProbeBytes"), Some(config.probe.bytes));
    assert_eq!(default("MaxProbeMilliseconds"), Some(config.probe.time.as_millis() as u64));
}

#[test]
fn every_setting_the_code_reads_is_set_for_the_functions() {
    let t = template();
    let mut set: BTreeSet<String> = t["Globals"]["Function"]["Environment"]["Variables"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    for (_, r) in t["Resources"].as_mapping().unwrap() {
        if let Some(vars) = r["Properties"]["Environment"]["Variables"].as_mapping() {
            set.extend(vars.keys().map(|k| k.as_str().unwrap().to_owned()));
        }
    }
    for name in vidgate::config::VARIABLES {
        if !vidgate::config::LOCAL_ONLY_VARIABLES.contains(name) {
            assert!(set.contains(*name), "template.yaml never sets {name}");
        }
    }
    for name in vidgate::uploads::webhooks::VARIABLES {
        assert!(set.contains(name), "template.yaml never sets {name}");
    }
    // The CDN's private key is never in a function's environment: the template names its secret.
    for name in vidgate::config::LOCAL_ONLY_VARIABLES {
        assert!(!set.contains(*name), "template.yaml sets the local-only {name}");
    }
    for name in set.iter().filter(|n| n.starts_with("VIDGATE_")) {
        let read = vidgate::config::VARIABLES
            .iter()
            .chain(&vidgate::ffmpeg::VARIABLES)
            .chain(&vidgate::uploads::webhooks::VARIABLES)
            .any(|v| v == name);
        assert!(read, "the code never reads {name}");
    }
}

/// The `then` branch of `!If [condition, then, else]`, checking the condition's name.
fn if_then<'a>(v: &'a Value, condition: &str) -> &'a Value {
    let Value::Tagged(tagged) = v else { panic!("{v:?} is not an !If") };
    assert_eq!(tagged.tag, "If");
    assert_eq!(tagged.value[0], condition, "{v:?}");
    &tagged.value[1]
}

#[test]
fn playback_goes_through_a_private_cloudfront_distribution_that_plays_signed_urls_only() {
    let t = template();
    let r = &t["Resources"];
    assert_eq!(t["Parameters"]["Cdn"]["Default"], "Enabled", "the CDN is on by default");
    for name in ["CdnDistribution", "CdnOriginAccessControl", "CdnKeyGroup", "CdnSigningPublicKey"] {
        assert_eq!(r[name]["Condition"], "CdnOn", "{name}");
    }
    let oac = &r["CdnOriginAccessControl"]["Properties"]["OriginAccessControlConfig"];
    assert_eq!(
        (&oac["OriginAccessControlOriginType"], &oac["SigningBehavior"], &oac["SigningProtocol"]),
        (&Value::from("s3"), &Value::from("always"), &Value::from("sigv4"))
    );
    let config = &r["CdnDistribution"]["Properties"]["DistributionConfig"];
    let origin = &config["Origins"][0];
    assert_eq!(str_of(&origin["DomainName"]), Some("VideoBucket.RegionalDomainName"));
    assert_eq!(str_of(&origin["OriginAccessControlId"]), Some("CdnOriginAccessControl.Id"));
    assert_eq!(origin["S3OriginConfig"]["OriginAccessIdentity"], "", "OAC, not the legacy OAI");
    let behavior = &config["DefaultCacheBehavior"];
    assert_eq!(behavior["ViewerProtocolPolicy"], "https-only");
    assert_eq!(strings(&behavior["AllowedMethods"]), ["GET", "HEAD"]);
    assert_eq!(strings(&behavior["TrustedKeyGroups"]), ["CdnKeyGroup"]);
    assert_eq!(str_of(&behavior["CachePolicyId"]), Some("CdnCachePolicy"));
    assert!(config.get("CacheBehaviors").is_none(), "no other path escapes the key group");
    let keys = &r["CdnKeyGroup"]["Properties"]["KeyGroupConfig"]["Items"];
    assert_eq!(strings(keys), ["CdnSigningPublicKey"]);
    let public = &r["CdnSigningPublicKey"]["Properties"]["PublicKeyConfig"]["EncodedKey"];
    assert_eq!(str_of(public), Some("CdnPublicKey"));
    let cache =
        &r["CdnCachePolicy"]["Properties"]["CachePolicyConfig"]["ParametersInCacheKeyAndForwardedToOrigin"];
    // The checked version and the record's type go to S3 (and key the cache); signatures don't.
    assert_eq!(cache["QueryStringsConfig"]["QueryStringBehavior"], "whitelist");
    assert_eq!(strings(&cache["QueryStringsConfig"]["QueryStrings"]), ["versionId", "response-content-type"]);

    // The bucket stays private: its policy lets this distribution (and only it) read videos.
    let policy = &r["VideoBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"];
    let cdn = policy
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| matches!(s, Value::Tagged(t) if t.tag == "If"))
        .map(|s| if_then(s, "CdnOn"))
        .expect("the CloudFront statement");
    assert_eq!(
        (&cdn["Effect"], &cdn["Principal"]["Service"]),
        (&Value::from("Allow"), &Value::from("cloudfront.amazonaws.com"))
    );
    assert_eq!(strings(&cdn["Action"]), ["s3:GetObject", "s3:GetObjectVersion"]);
    // Videos and their pictures; nothing else of the bucket.
    let resources: Vec<&str> =
        cdn["Resource"].as_sequence().unwrap().iter().map(|r| str_of(r).unwrap()).collect();
    assert!(
        resources.len() == 2 && resources[0].ends_with("/videos/*") && resources[1].ends_with("/images/*")
    );
    let source = str_of(&cdn["Condition"]["StringEquals"]["AWS:SourceArn"]).unwrap();
    assert!(source.ends_with(":distribution/${CdnDistribution}"), "{source}");
    assert_eq!(
        r["VideoBucket"]["Properties"]["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"],
        true
    );

    // create-playback signs: the key pair id and the secret's name, read at Init; only it may read the secret.
    let vars = &r["CreatePlaybackFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(str_of(if_then(&vars["VIDGATE_CDN_KEY_PAIR_ID"], "CdnOn")), Some("CdnSigningPublicKey"));
    assert_eq!(
        str_of(if_then(&vars["VIDGATE_CDN_PRIVATE_KEY_SECRET"], "CdnOn")),
        Some("CdnPrivateKeySecret")
    );
    for (name, resource) in r.as_mapping().unwrap() {
        let mut found = Vec::new();
        statements(resource, &mut found);
        let reads =
            found.iter().any(|s| strings(&s["Action"]).iter().any(|a| a.starts_with("secretsmanager:")));
        let cdn_key = found.iter().any(|s| format!("{:?}", s["Resource"]).contains("CdnPrivateKeySecret"));
        assert_eq!(cdn_key, name == "CreatePlaybackFunction", "{name:?} and the CDN's key");
        // The other readers: stream-video, of the playback key alone, the functions that sign
        // upload URLs, of the dedicated signing key alone, and deliver-webhooks, of the webhook's
        // secret alone.
        let signers = ["CreateUploadFunction", "SignPartsFunction", "SignRequestFunction"];
        let signing_key =
            found.iter().any(|s| format!("{:?}", s["Resource"]).contains("UrlSigningKeySecret"));
        let name = name.as_str().unwrap_or_default();
        assert_eq!(signing_key, signers.contains(&name), "{name:?} and the signing key");
        assert_eq!(
            reads,
            ["CreatePlaybackFunction", "StreamVideoFunction", "DeliverWebhooksFunction"].contains(&name)
                || signers.contains(&name),
            "{name:?}"
        );
    }
}

/// `UrlSigner` key-a/key-b: a user that may only do what upload URLs do, under `videos/`, two
/// keys (one replaced while the other's URLs live), the named one in a secret the signing
/// functions find through `VIDGATE_SIGNING_KEY_SECRET`; `role` creates none of it.
#[test]
fn a_dedicated_signing_key_can_only_write_parts_and_is_read_by_the_signers_alone() {
    let t = template();
    let r = &t["Resources"];
    for name in ["UrlSigningUser", "UrlSigningKeyA", "UrlSigningKeyB", "UrlSigningKeySecret"] {
        assert_eq!(r[name]["Condition"].as_str(), Some("DedicatedSigner"), "{name}");
    }
    let policy = &r["UrlSigningUser"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"];
    let statements = policy.as_sequence().unwrap();
    assert_eq!(statements.len(), 1);
    let mut actions = strings(&statements[0]["Action"]);
    actions.sort();
    assert_eq!(actions, ["s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:PutObject"]);
    assert!(format!("{:?}", statements[0]["Resource"]).contains("/videos/*"));
    for key in ["UrlSigningKeyA", "UrlSigningKeyB"] {
        assert_eq!(str_of(&r[key]["Properties"]["UserName"]), Some("UrlSigningUser"), "{key}");
    }
    let globals = &t["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(
        str_of(if_then(&globals["VIDGATE_SIGNING_KEY_SECRET"], "DedicatedSigner")),
        Some("UrlSigningKeySecret")
    );
    let allowed = &t["Parameters"]["UrlSigner"]["AllowedValues"];
    assert_eq!(strings(allowed), ["role", "key-a", "key-b"]);
    assert_eq!(t["Parameters"]["UrlSigner"]["Default"].as_str(), Some("role"));
}

#[test]
fn the_table_has_the_indexes_the_code_queries() {
    let t = template();
    let table = &t["Resources"]["VideoTable"]["Properties"];
    let indexes: BTreeSet<&str> = table["GlobalSecondaryIndexes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|i| i["IndexName"].as_str().unwrap())
        .collect();
    use vidgate::aws::dynamodb::{INDEX_BY_EXPIRY, INDEX_BY_OWNER, INDEX_BY_OWNER_STATUS};
    assert_eq!(indexes, BTreeSet::from([INDEX_BY_OWNER, INDEX_BY_OWNER_STATUS, INDEX_BY_EXPIRY]));
    assert_eq!(table["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true);
    assert_eq!(table["TimeToLiveSpecification"]["AttributeName"], "purgeAt");
}

#[test]
fn iam_grants_named_actions_on_named_resources_only() {
    let t = template();
    let mut found = Vec::new();
    statements(&t["Resources"], &mut found);
    assert!(found.len() > 20, "statements found: {}", found.len());
    for statement in found {
        let actions = strings(&statement["Action"]);
        assert!(!actions.is_empty(), "{statement:?}");
        let deny = statement["Effect"] == "Deny";
        for action in &actions {
            // The bucket policy's TLS-only Deny covers every action on purpose.
            assert!(deny || !action.contains('*'), "wildcard action {action}");
        }
        if let Some(resource) = statement.get("Resource") {
            assert!(!strings(resource).iter().any(|r| r == "*"), "Resource \"*\" in {statement:?}");
        }
    }
}

#[test]
fn only_the_credential_functions_may_assume_the_uploader_role_which_may_only_write_videos() {
    let t = template();
    let role = &t["Resources"]["UploaderRole"]["Properties"];
    let trust = &role["AssumeRolePolicyDocument"]["Statement"];
    assert_eq!(trust.as_sequence().unwrap().len(), 1);
    let principals: Vec<String> = trust[0]["Principal"]["AWS"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| match p {
            Value::Tagged(tag) => tag.value.as_str().unwrap().to_owned(),
            other => panic!("principal {other:?} is not a function role"),
        })
        .collect();
    assert_eq!(principals, ["CreateUploadFunctionRole.Arn", "IssueCredentialsFunctionRole.Arn"]);
    let allowed = &role["Policies"][0]["PolicyDocument"]["Statement"];
    assert_eq!(allowed.as_sequence().unwrap().len(), 1);
    assert_eq!(strings(&allowed[0]["Action"]), vidgate::domain::credentials::UPLOAD_ACTIONS);
    assert!(strings(&allowed[0]["Resource"])[0].ends_with("/videos/*"));
}

#[test]
fn the_bucket_is_private_encrypted_tls_only_and_exposes_etag() {
    let t = template();
    let bucket = &t["Resources"]["VideoBucket"]["Properties"];
    let block = &bucket["PublicAccessBlockConfiguration"];
    for key in ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"] {
        assert_eq!(block[key], true, "{key}");
    }
    assert!(bucket["BucketEncryption"].is_mapping());
    assert_eq!(strings(&bucket["CorsConfiguration"]["CorsRules"][0]["ExposedHeaders"]), ["ETag"]);
    assert!(
        strings(&bucket["CorsConfiguration"]["CorsRules"][0]["AllowedMethods"]).contains(&"PUT".to_owned())
    );
    let rule = &bucket["LifecycleConfiguration"]["Rules"][0];
    assert!(rule["AbortIncompleteMultipartUpload"].is_mapping());
    let policy = &t["Resources"]["VideoBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(policy["Condition"]["Bool"]["aws:SecureTransport"], "false");
}

#[test]
fn every_function_has_an_event_fixture_that_lambda_http_parses_to_its_route() {
    let router = Router::default();
    for f in Function::ALL {
        let path = root().join("events").join(format!("{}.json", f.name()));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let Function::Http(f) = f else {
            if f == Function::Event(vidgate::function::EventFunction::OnObjectCreated) {
                // An SQS batch whose bodies are S3 notifications.
                let batch: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_str(&text).unwrap();
                for message in batch.records {
                    serde_json::from_str::<aws_lambda_events::event::s3::S3Event>(&message.body.unwrap())
                        .unwrap();
                }
            } else if f == Function::Event(vidgate::function::EventFunction::PublishEvents) {
                // A stream batch: a video started and finished, and its quota item's change.
                let batch: aws_lambda_events::event::dynamodb::Event = serde_json::from_str(&text).unwrap();
                let types: Vec<&str> = batch
                    .records
                    .iter()
                    .flat_map(|r| vidgate::events::lifecycle_event("bucket", r).unwrap())
                    .map(|e| e.detail_type)
                    .collect();
                assert_eq!(types, ["Video Upload Started", "Video Uploaded"], "{}", path.display());
            } else if f == Function::Event(vidgate::function::EventFunction::MakeImages) {
                // An SQS batch whose bodies are the bus's `Video Uploaded` events.
                let batch: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_str(&text).unwrap();
                for message in batch.records {
                    let event: serde_json::Value = serde_json::from_str(&message.body.unwrap()).unwrap();
                    assert_eq!(event["detail-type"], "Video Uploaded");
                    assert!(
                        event["detail"]["id"].as_str().unwrap().parse::<vidgate::domain::VideoId>().is_ok()
                    );
                }
            } else if f == Function::Event(vidgate::function::EventFunction::EraseOwner) {
                serde_json::from_str::<vidgate::events::EraseRequest>(&text).unwrap();
            } else {
                serde_json::from_str::<serde_json::Value>(&text).unwrap();
            }
            continue;
        };
        let request =
            lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (route, _) = router.find(request.method().as_str(), request.uri().path()).unwrap();
        assert_eq!(route.function(), f, "{}", path.display());
    }
}

#[test]
fn openapi_documents_exactly_the_route_table() {
    let text = std::fs::read_to_string(root().join("openapi.yaml")).unwrap();
    let doc: Value = serde_norway::from_str(&text).unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_mapping().unwrap() {
        for method in ["get", "head", "post", "put", "delete", "patch"] {
            if item.get(method).is_some() {
                documented.insert(format!("{} {}", method.to_uppercase(), path.as_str().unwrap()));
            }
        }
    }
    let routes: BTreeSet<String> = ROUTES.iter().map(|r| r.key()).collect();
    assert_eq!(documented, routes);
}

/// Every place that lists a video's statuses lists exactly `Status::ALL`: the OpenAPI enums (the
/// `Video` schema and the `?status=` filter), and the README's state line and its `status` sentence
/// (the 400 for an unknown `?status=` builds its message from `Status::ALL`).
#[test]
fn statuses_are_listed_as_the_code_has_them() {
    use vidgate::domain::Status;
    let all: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();

    let text = std::fs::read_to_string(root().join("openapi.yaml")).unwrap();
    let doc: Value = serde_norway::from_str(&text).unwrap();
    let mut enums = Vec::new();
    fn status_enums<'a>(v: &'a Value, key: Option<&str>, out: &mut Vec<&'a Value>) {
        match v {
            Value::Mapping(m) => {
                let named = m.get("name").and_then(|n| n.as_str()) == Some("status");
                for (k, child) in m {
                    let k = k.as_str();
                    // An images run's status (pending, ready, failed) and an upload link's (open,
                    // used) are not a video's.
                    if k == Some("Images") || k == Some("UploadLink") {
                        continue;
                    }
                    if k == Some("enum") && (key == Some("status") || named) {
                        out.push(child);
                    }
                    let next = if k == Some("schema") && named { Some("status") } else { k };
                    status_enums(child, next, out);
                }
            }
            Value::Sequence(items) => items.iter().for_each(|i| status_enums(i, key, out)),
            _ => {}
        }
    }
    status_enums(&doc, None, &mut enums);
    assert!(enums.len() >= 2, "the Video schema and the ?status= filter: {enums:?}");
    for e in enums {
        let listed: Vec<&str> = e.as_sequence().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
        assert_eq!(listed, all, "openapi.yaml");
    }

    let readme = std::fs::read_to_string(root().join("docs/api.md")).unwrap();
    let readme = readme.split_whitespace().collect::<Vec<_>>().join(" ");
    let line = format!("`{} → {}`", all[0], all[1..].join(" | "));
    assert!(readme.contains(&line), "docs/api.md should say {line}");
    let quoted: Vec<String> = all.iter().map(|s| format!("`{s}`")).collect();
    let sentence =
        format!("`status` is {} or {}", quoted[..quoted.len() - 1].join(", "), quoted[quoted.len() - 1]);
    assert!(readme.contains(&sentence), "docs/api.md should say {sentence}");
}

/// Lifecycle events: the table streams both images; publish-events reads it with partial batch
/// replies, retries the template's default (the local reader's) number of times, then reports
/// to a retained dead-letter queue; the webhook rule's target retries and dead-letters too; the
/// JSON Schema names exactly the code's detail-types.
#[test]
fn lifecycle_events_flow_from_the_stream_to_the_bus_and_the_webhook_with_nothing_dropped() {
    let t = template();
    let r = &t["Resources"];
    assert_eq!(r["VideoTable"]["Properties"]["StreamSpecification"]["StreamViewType"], "NEW_AND_OLD_IMAGES");
    let function = &r["PublishEventsFunction"]["Properties"];
    let stream = &function["Events"]["TableStream"];
    assert_eq!(stream["Type"], "DynamoDB");
    let p = &stream["Properties"];
    assert_eq!(strings(&p["FunctionResponseTypes"]), ["ReportBatchItemFailures"]);
    assert_eq!(p["StartingPosition"], "TRIM_HORIZON");
    assert!(
        format!("{:?}", p["DestinationConfig"]["OnFailure"]["Destination"])
            .contains("PublishDeadLetterQueue")
    );
    assert_eq!(
        t["Parameters"]["PublishMaxRetries"]["Default"].as_u64(),
        Some(u64::from(vidgate::events::PUBLISH_MAX_RETRIES))
    );
    assert!(
        format!("{:?}", function["Environment"]["Variables"]["VIDGATE_EVENT_BUS"]).contains("VideoEventBus")
    );
    for queue in ["PublishDeadLetterQueue", "WebhookDeadLetterQueue"] {
        assert_eq!(r[queue]["DeletionPolicy"], "Retain", "{queue}");
        assert_eq!(r[queue]["UpdateReplacePolicy"], "Retain", "{queue}");
    }
    // The webhook: the rule queues every event; deliver-webhooks signs and POSTs each, reading
    // its secrets from Secrets Manager, retrying through the queue, dead-lettering what it can't.
    let rule = &r["WebhookRule"]["Properties"];
    assert_eq!(strings(&rule["EventPattern"]["source"]), [vidgate::domain::lifecycle::SOURCE]);
    let target = &rule["Targets"][0];
    assert!(format!("{:?}", target["Arn"]).contains("WebhookQueue"));
    assert!(format!("{:?}", target["DeadLetterConfig"]["Arn"]).contains("WebhookDeadLetterQueue"));
    let queue = &r["WebhookQueue"]["Properties"];
    assert_eq!(queue["SqsManagedSseEnabled"], true);
    assert!(
        format!("{:?}", queue["RedrivePolicy"]["deadLetterTargetArn"]).contains("WebhookDeadLetterQueue")
    );
    assert_eq!(reference(&queue["RedrivePolicy"]["maxReceiveCount"]).as_deref(), Some("WebhookMaxAttempts"));
    assert_eq!(
        t["Parameters"]["WebhookMaxAttempts"]["Default"].as_u64(),
        Some(u64::from(vidgate_local::lifecycle::DEFAULT_ATTEMPTS))
    );
    let only = &r["WebhookQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
    assert!(format!("{:?}", only["Condition"]["ArnEquals"]["aws:SourceArn"]).contains("WebhookRule"));
    let deliver = &r["DeliverWebhooksFunction"];
    assert_eq!(deliver["Condition"], "HasWebhook");
    let source = &deliver["Properties"]["Events"]["Queued"];
    assert_eq!(source["Type"], "SQS");
    assert!(format!("{:?}", source["Properties"]["Queue"]).contains("WebhookQueue"));
    assert_eq!(strings(&source["Properties"]["FunctionResponseTypes"]), ["ReportBatchItemFailures"]);
    let vars = &deliver["Properties"]["Environment"]["Variables"];
    assert_eq!(reference(&vars["VIDGATE_WEBHOOK_SECRET_NAME"]).as_deref(), Some("WebhookSecret"));
    assert_eq!(reference(&vars["VIDGATE_WEBHOOK_URL"]).as_deref(), Some("WebhookUrl"));
    let mut granted = Vec::new();
    statements(&deliver["Properties"]["Policies"], &mut granted);
    let reads_secret = granted.iter().find(|s| s["Action"] == "secretsmanager:GetSecretValue").unwrap();
    assert_eq!(reference(&reads_secret["Resource"]).as_deref(), Some("WebhookSecret"));
    // The secret is generated, never a parameter, and only this function reads it.
    let secret = &r["WebhookSecret"];
    assert_eq!(secret["Type"], "AWS::SecretsManager::Secret");
    assert_eq!(secret["Properties"]["GenerateSecretString"]["PasswordLength"].as_u64(), Some(32));
    assert!(t["Parameters"].as_mapping().unwrap().keys().all(|k| !k.as_str().unwrap().contains("Auth")));
    for (name, resource) in r.as_mapping().unwrap() {
        if name.as_str() == Some("DeliverWebhooksFunction") {
            continue;
        }
        let mut granted = Vec::new();
        statements(&resource["Properties"]["Policies"], &mut granted);
        for statement in granted {
            assert!(!format!("{:?}", statement["Resource"]).contains("WebhookSecret"), "{name:?}");
        }
    }

    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/lifecycle-event.schema.json")).unwrap(),
    )
    .unwrap();
    let listed: Vec<&str> = schema["properties"]["detail-type"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let code: Vec<&str> = vidgate::domain::lifecycle::Lifecycle::ALL
        .iter()
        .map(|l| l.detail_type())
        .chain(vidgate::domain::lifecycle::ImagesLifecycle::ALL.iter().map(|l| l.detail_type()))
        .collect();
    assert_eq!(listed, code);
    let statuses: Vec<&str> =
        schema["$defs"]["status"]["enum"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(statuses, vidgate::domain::Status::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>());
}

#[test]
fn what_was_checked_is_what_is_served_and_the_deploy_defaults_are_safe() {
    let t = template();
    let r = &t["Resources"];
    // Write-once: versions kept, so reads and playback URLs name the checked one.
    assert_eq!(r["VideoBucket"]["Properties"]["VersioningConfiguration"]["Status"], "Enabled");
    // Nobody writes what S3 would keep but not serve back: SSE-C, archive classes.
    let policy = r["VideoBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"].as_sequence().unwrap();
    let sid = |name: &str| policy.iter().find(|s| s["Sid"] == name).unwrap_or_else(|| panic!("{name}"));
    let keys = sid("DenyCustomerKeys");
    assert_eq!((str_of(&keys["Effect"]), str_of(&keys["Action"])), (Some("Deny"), Some("s3:PutObject")));
    assert_eq!(keys["Condition"]["Null"]["s3:x-amz-server-side-encryption-customer-algorithm"], "false");
    let classes = sid("DenyOtherStorageClasses");
    assert_eq!(str_of(&classes["Effect"]), Some("Deny"));
    assert_eq!(classes["Condition"]["Null"]["s3:x-amz-storage-class"], "false", "absent = STANDARD");
    assert_eq!(classes["Condition"]["StringNotEquals"]["s3:x-amz-storage-class"], "STANDARD");
    // Served as a video: the CDN adds nosniff (the type is the record's, in the signed URL).
    let headers = &r["CdnCorsPolicy"]["Properties"]["ResponseHeadersPolicyConfig"];
    assert_eq!(headers["SecurityHeadersConfig"]["ContentTypeOptions"]["Override"], true);
    let behavior = &r["CdnDistribution"]["Properties"]["DistributionConfig"]["DefaultCacheBehavior"];
    assert_eq!(str_of(&behavior["ResponseHeadersPolicyId"]), Some("CdnCorsPolicy"));
    // A write over a final video is a metric with an alarm.
    let filter = &r["ForeignWritesMetric"]["Properties"];
    assert_eq!(str_of(&filter["LogGroupName"]), Some("OnObjectCreatedLogGroup"));
    assert!(filter["FilterPattern"].as_str().unwrap().contains(r#"$.fields.event = "foreign_write""#));
    assert_eq!(filter["MetricTransformations"][0]["MetricName"], "ForeignWrites");
    assert_eq!(r["ForeignWritesAlarm"]["Properties"]["MetricName"], "ForeignWrites");
    let logging = &r["OnObjectCreatedFunction"]["Properties"]["LoggingConfig"];
    assert_eq!(str_of(&logging["LogGroup"]), Some("OnObjectCreatedLogGroup"));

    // The playback key is a secret the stack generates, read at Init; no environment holds a key.
    let secret = &r["PlaybackSecret"];
    assert_eq!(secret["Type"], "AWS::SecretsManager::Secret");
    assert!(secret["Properties"]["GenerateSecretString"]["PasswordLength"].as_u64().unwrap() >= 32);
    assert!(t["Parameters"].get("PlaybackSecret").is_none());
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    assert!(!text.contains("VIDGATE_PLAYBACK_SECRET:"), "a key in an environment variable");
    let vars = &r["StreamVideoFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(str_of(&vars["VIDGATE_PLAYBACK_SECRET_NAME"]), Some("PlaybackSecret"));
    let mut readers = Vec::new();
    for (name, resource) in r.as_mapping().unwrap() {
        let mut found = Vec::new();
        statements(&resource["Properties"]["Policies"], &mut found);
        if found.iter().any(|s| {
            s["Action"] == "secretsmanager:GetSecretValue" && str_of(&s["Resource"]) == Some("PlaybackSecret")
        }) {
            readers.push(name.as_str().unwrap().to_owned());
        }
    }
    readers.sort();
    assert_eq!(readers, ["CreatePlaybackFunction", "StreamVideoFunction"]);

    // Deploy defaults: admin-only sign-up; issuer and audience together; a webhook has a secret.
    assert_eq!(t["Parameters"]["SelfSignUp"]["Default"], "Disabled");
    let admin_only = &r["UserPool"]["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"];
    assert_eq!(if_then(admin_only, "SelfSignUpOn"), &Value::from(false));
    let Value::Tagged(admin_only) = admin_only else { unreachable!() };
    assert_eq!(admin_only.value[2], Value::from(true), "admin-only unless SelfSignUp is Enabled");
    let rules = &t["Rules"];
    for (rule, condition_on, needs) in [
        ("JwtIssuerNeedsAudience", "JwtIssuer", "JwtAudience"),
        ("JwtAudienceNeedsIssuer", "JwtAudience", "JwtIssuer"),
        ("WebhookIsHttps", "WebhookUrl", "https://"),
    ] {
        let rule = &rules[rule];
        assert!(serde_norway::to_string(&rule["RuleCondition"]).unwrap().contains(condition_on), "{rule:?}");
        assert!(serde_norway::to_string(&rule["Assertions"]).unwrap().contains(needs), "{rule:?}");
    }
    // Every function a caller drives can be held to a reserved concurrency.
    for (name, resource) in r.as_mapping().unwrap() {
        let events = resource["Properties"]["Events"].as_mapping();
        if events.is_some_and(|e| e.values().any(|e| e["Type"] == "HttpApi")) {
            let reserved = &resource["Properties"]["ReservedConcurrentExecutions"];
            assert_eq!(
                str_of(if_then(reserved, "ReserveApiConcurrency")),
                Some("ApiFunctionConcurrency"),
                "{name:?}"
            );
        }
    }
}

/// A made-up `sam build` output for `infra/check-bootstraps DIR`: one bootstrap per function, each
/// an ELF header for `machine` grown (sparse) to `size` bytes; `None` leaves it out.
fn check_bootstraps(builds: &[(&str, Option<(u16, u64)>)]) -> (bool, String) {
    let dir = std::env::temp_dir().join(format!(
        "vidgate-check-bootstraps-{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    ));
    let mut template = String::from("Resources:\n");
    for (name, build) in builds {
        template.push_str(&format!("  {name}:\n    Type: AWS::Serverless::Function\n"));
        let Some((machine, size)) = build else { continue };
        let out = dir.join(".aws-sam/build").join(name);
        std::fs::create_dir_all(&out).unwrap();
        let mut header = [0u8; 20];
        header[..4].copy_from_slice(b"\x7fELF");
        header[18..20].copy_from_slice(&machine.to_le_bytes());
        let path = out.join("bootstrap");
        std::fs::write(&path, header).unwrap();
        std::fs::File::options().write(true).open(&path).unwrap().set_len(*size).unwrap();
    }
    std::fs::write(dir.join("template.yaml"), template).unwrap();
    let out = std::process::Command::new(root().join("infra/check-bootstraps"))
        .arg(&dir)
        .output()
        .expect("infra/check-bootstraps runs");
    std::fs::remove_dir_all(&dir).unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn check_bootstraps_fails_a_bootstrap_of_8_mb_or_more_a_missing_one_and_one_not_for_arm64() {
    const AARCH64: u16 = 0xb7;
    const X86_64: u16 = 0x3e;
    let (ok, out) = check_bootstraps(&[
        ("GetVideoFunction", Some((AARCH64, 7_999_999))),
        ("ListPartsFunction", Some((AARCH64, 5_240_000))),
    ]);
    assert!(ok, "{out}");
    assert!(out.contains("ListPartsFunction") && out.contains("5.24 MB"), "{out}");

    let (ok, out) = check_bootstraps(&[
        ("GetVideoFunction", Some((AARCH64, 8_000_000))),
        ("ListPartsFunction", Some((AARCH64, 5_240_000))),
    ]);
    assert!(!ok, "{out}");
    assert!(out.contains("GetVideoFunction                8.00 MB  (not under 8 MB)"), "{out}");

    let (ok, out) = check_bootstraps(&[("GetVideoFunction", Some((X86_64, 1_000)))]);
    assert!(!ok, "{out}");
    assert!(out.contains("is not an aarch64 ELF"), "{out}");

    let (ok, out) =
        check_bootstraps(&[("GetVideoFunction", None), ("ListPartsFunction", Some((AARCH64, 1_000)))]);
    assert!(!ok, "{out}");
    assert!(out.contains("GetVideoFunction: no bootstrap"), "{out}");
}
