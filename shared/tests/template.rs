//! `template.yaml` checked against the code: every table the store uses is declared once with TTL
//! on `expires_at` and the indexes its queries need, tables are recoverable and encrypted, and
//! every function is an arm64 cargo-lambda build of a crate that exists; every function has a log
//! group with a retention and alarms on its errors and throttles, and the alarms and dashboard
//! read only metrics the code emits. Linters miss some of this (an invalid `Runtime`, a misspelt
//! method or metric name), so it is checked here.

use std::collections::BTreeMap;
use std::path::Path;

use mcp_oauth::store::Table;
use mcp_oauth::store::tables::{attr, index};
use serde_norway::Value;
use tables::{TEMPLATE, TableDef, table_defs};

fn defs() -> Vec<TableDef> {
    table_defs(TEMPLATE).expect("template.yaml's tables parse")
}

fn def(table: Table) -> TableDef {
    defs()
        .into_iter()
        .find(|d| d.table == table)
        .unwrap_or_else(|| panic!("no template table for {table}"))
}

fn doc() -> Value {
    serde_norway::from_str(TEMPLATE).expect("template.yaml is YAML")
}

/// A scalar, looking through a CloudFormation tag such as `!Ref`.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Tagged(t) => scalar(&t.value),
        _ => None,
    }
}

/// `(logical id, resource)` of every resource of the given type.
fn resources(doc: &Value, kind: &str) -> Vec<(String, Value)> {
    doc["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r.get("Type").and_then(scalar).as_deref() == Some(kind))
        .map(|(id, r)| (scalar(id).expect("logical id"), r.clone()))
        .collect()
}

/// A function property, falling back to `Globals.Function` as SAM does.
fn function_property(doc: &Value, function: &Value, name: &str) -> Option<Value> {
    function
        .get("Properties")
        .and_then(|p| p.get(name))
        .or_else(|| {
            doc.get("Globals")
                .and_then(|g| g.get("Function"))
                .and_then(|f| f.get(name))
        })
        .cloned()
}

#[test]
fn every_store_table_is_declared_exactly_once() {
    let mut count: BTreeMap<Table, usize> = BTreeMap::new();
    // table_defs fails on a table resource whose name is no `Table`, so every resource is one.
    for d in defs() {
        *count.entry(d.table).or_default() += 1;
    }
    for table in Table::ALL {
        assert_eq!(
            count.get(&table),
            Some(&1),
            "{table} must have exactly one AWS::DynamoDB::Table"
        );
    }
    assert_eq!(count.len(), Table::ALL.len());
    assert_eq!(resources(&doc(), "AWS::DynamoDB::Table").len(), Table::ALL.len());
}

#[test]
fn every_table_is_keyed_by_pk_and_expires_items_by_expires_at() {
    for d in defs() {
        assert_eq!(d.hash_key, attr::KEY, "{}: partition key", d.table);
        assert_eq!(
            d.ttl_attribute.as_deref(),
            Some(attr::EXPIRES_AT),
            "{}: TTL attribute",
            d.table
        );
        assert!(
            d.attributes.iter().all(|(name, _)| name != attr::EXPIRES_AT),
            "{}: the TTL attribute is not a key and must not be in AttributeDefinitions",
            d.table
        );
    }
}

#[test]
fn tables_queried_by_owner_have_a_by_owner_index() {
    for table in [Table::Grants, Table::Consents, Table::Keys, Table::AppData] {
        let d = def(table);
        let idx = d.indexes.iter().find(|(name, ..)| name == index::BY_OWNER);
        let (_, key, projection) = idx.unwrap_or_else(|| panic!("{table}: no {} index", index::BY_OWNER));
        assert_eq!(
            key,
            attr::OWNER,
            "{table}: {} is keyed by {}",
            index::BY_OWNER,
            attr::OWNER
        );
        // query_by_owner returns whole items, so the index must project them.
        assert_eq!(projection, "ALL", "{table}: {} projection", index::BY_OWNER);
        assert!(
            d.attributes.contains(&(attr::OWNER.into(), "S".into())),
            "{table}: owner must be declared S"
        );
    }
}

#[test]
fn grants_have_a_by_grant_index() {
    let d = def(Table::Grants);
    let idx = d.indexes.iter().find(|(name, ..)| name == index::BY_GRANT);
    let (_, key, _) = idx.expect("grants: no by_grant index");
    assert_eq!(key, attr::GRANT);
    assert!(
        d.attributes.contains(&(attr::GRANT.into(), "S".into())),
        "grant_id must be declared S"
    );
}

#[test]
fn every_index_key_is_a_declared_attribute() {
    for d in defs() {
        for (name, key, _) in &d.indexes {
            assert!(
                d.attributes.iter().any(|(a, _)| a == key),
                "{}: index {name} keys on undeclared {key}",
                d.table
            );
        }
    }
}

#[test]
fn every_table_has_point_in_time_recovery_and_encryption() {
    for (id, table) in resources(&doc(), "AWS::DynamoDB::Table") {
        let props = &table["Properties"];
        assert_eq!(
            props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(),
            Some(true),
            "{id}: PointInTimeRecoverySpecification must be enabled"
        );
        assert_eq!(
            props["SSESpecification"]["SSEEnabled"].as_bool(),
            Some(true),
            "{id}: SSESpecification must be enabled"
        );
    }
}

#[test]
fn every_function_is_an_arm64_al2023_cargo_lambda_build_of_an_existing_crate() {
    let doc = doc();
    let functions = resources(&doc, "AWS::Serverless::Function");
    assert!(!functions.is_empty(), "the template declares no function");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for (id, f) in functions {
        let arch = function_property(&doc, &f, "Architectures").unwrap_or_else(|| panic!("{id}: no Architectures"));
        let arch: Vec<String> = arch.as_sequence().expect("a list").iter().filter_map(scalar).collect();
        assert_eq!(arch, ["arm64"], "{id}: Architectures");
        let runtime = function_property(&doc, &f, "Runtime").as_ref().and_then(scalar);
        assert_eq!(runtime.as_deref(), Some("provided.al2023"), "{id}: Runtime");
        let handler = function_property(&doc, &f, "Handler").as_ref().and_then(scalar);
        assert_eq!(handler.as_deref(), Some("bootstrap"), "{id}: Handler");

        let meta = f.get("Metadata").unwrap_or_else(|| panic!("{id}: no Metadata"));
        assert_eq!(
            meta.get("BuildMethod").and_then(scalar).as_deref(),
            Some("rust-cargolambda"),
            "{id}: BuildMethod"
        );
        let binary = meta
            .get("BuildProperties")
            .and_then(|b| b.get("Binary"))
            .and_then(scalar)
            .unwrap_or_else(|| panic!("{id}: no BuildProperties.Binary"));
        let krate = workspace.join("functions").join(&binary);
        let manifest = std::fs::read_to_string(krate.join("Cargo.toml"))
            .unwrap_or_else(|e| panic!("{id}: Binary {binary} names no crate functions/{binary} ({e})"));
        assert!(
            manifest.lines().any(|l| l.trim() == format!("name = \"{binary}\"")),
            "{id}: functions/{binary}/Cargo.toml must name the package {binary}"
        );
        assert!(
            krate.join("src/main.rs").is_file(),
            "{id}: functions/{binary} has no src/main.rs"
        );
    }
}

#[test]
fn every_function_crate_is_deployed_by_the_template() {
    let doc = doc();
    let binaries: Vec<String> = resources(&doc, "AWS::Serverless::Function")
        .iter()
        .filter_map(|(_, f)| {
            f.get("Metadata")?
                .get("BuildProperties")?
                .get("Binary")
                .and_then(scalar)
        })
        .collect();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions");
    for entry in std::fs::read_dir(&dir).expect("functions/") {
        let path = entry.expect("entry").path();
        if !path.join("Cargo.toml").is_file() {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name")
            .to_owned();
        let deployed = binaries.iter().filter(|b| **b == name).count();
        assert_eq!(
            deployed, 1,
            "functions/{name} must be the Binary of exactly one template function"
        );
    }
}

#[test]
fn every_http_api_route_has_a_valid_method_and_path_and_is_claimed_once() {
    const METHODS: [&str; 8] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "ANY"];
    let doc = doc();
    let mut seen: BTreeMap<(String, String), String> = BTreeMap::new();
    for (id, f) in resources(&doc, "AWS::Serverless::Function") {
        let Some(events) = f
            .get("Properties")
            .and_then(|p| p.get("Events"))
            .and_then(Value::as_mapping)
        else {
            continue;
        };
        for (name, event) in events {
            if event.get("Type").and_then(scalar).as_deref() != Some("HttpApi") {
                continue;
            }
            let name = scalar(name).expect("event name");
            let props = &event["Properties"];
            assert_eq!(
                props.get("ApiId").and_then(scalar).as_deref(),
                Some("HttpApi"),
                "{id}.{name}: ApiId"
            );
            let method = props
                .get("Method")
                .and_then(scalar)
                .unwrap_or_else(|| panic!("{id}.{name}: no Method"));
            assert!(
                METHODS.contains(&method.to_ascii_uppercase().as_str()),
                "{id}.{name}: method {method}"
            );
            let path = props
                .get("Path")
                .and_then(scalar)
                .unwrap_or_else(|| panic!("{id}.{name}: no Path"));
            assert!(
                path.starts_with('/') && !path.contains("//"),
                "{id}.{name}: path {path}"
            );
            let route = (method.to_ascii_uppercase(), path);
            if let Some(other) = seen.insert(route.clone(), format!("{id}.{name}")) {
                panic!("{route:?} is claimed by both {other} and {id}.{name}");
            }
        }
    }
    assert!(!seen.is_empty(), "no HttpApi route in the template");
}

/// `(logical id, properties)` of every alarm.
fn alarms(doc: &Value) -> Vec<(String, Value)> {
    resources(doc, "AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|(id, a)| (id, a["Properties"].clone()))
        .collect()
}

/// The `(namespace, metric name, dimension values)` an alarm reads, directly or in metric math.
fn alarm_metrics(props: &Value) -> Vec<(String, String, Vec<String>)> {
    let dims = |d: &Value| -> Vec<String> {
        d.as_sequence()
            .into_iter()
            .flatten()
            .filter_map(|d| d.get("Value").and_then(scalar))
            .collect()
    };
    let mut out = Vec::new();
    if let (Some(ns), Some(name)) = (
        props.get("Namespace").and_then(scalar),
        props.get("MetricName").and_then(scalar),
    ) {
        out.push((ns, name, dims(&props["Dimensions"])));
    }
    for m in props.get("Metrics").and_then(Value::as_sequence).into_iter().flatten() {
        if let Some(metric) = m.get("MetricStat").and_then(|s| s.get("Metric")) {
            out.push((
                metric.get("Namespace").and_then(scalar).unwrap_or_default(),
                metric.get("MetricName").and_then(scalar).unwrap_or_default(),
                dims(&metric["Dimensions"]),
            ));
        }
    }
    out
}

#[test]
fn alarms_and_dashboard_read_only_metrics_the_code_emits() {
    let names: Vec<&str> = mcp_oauth::metrics::Metric::ALL.iter().map(|m| m.name()).collect();
    let doc = doc();
    let mut checked = 0;
    for (id, props) in alarms(&doc) {
        for (ns, name, _) in alarm_metrics(&props) {
            // `!Ref MetricsNamespace` reads back as the parameter's name.
            if ns == "MetricsNamespace" {
                assert!(
                    names.contains(&name.as_str()),
                    "{id}: no metric {name} in mcp_oauth::metrics"
                );
                checked += 1;
            }
        }
    }
    let dashboard = resources(&doc, "AWS::CloudWatch::Dashboard");
    let [(_, dashboard)] = dashboard.as_slice() else {
        panic!("expected one dashboard");
    };
    let body = scalar(&dashboard["Properties"]["DashboardBody"]).expect("DashboardBody text");
    // Plain entries `["${MetricsNamespace}", "Name", …` and searches `{${MetricsNamespace},…} MetricName=\"Name\"`.
    for part in body.split("[\"${MetricsNamespace}\", \"").skip(1) {
        let name = part.split('"').next().unwrap_or_default();
        assert!(
            names.contains(&name),
            "dashboard: no metric {name} in mcp_oauth::metrics"
        );
        checked += 1;
    }
    for part in body.split("{${MetricsNamespace},").skip(1) {
        let name = part
            .split("MetricName=\\\"")
            .nth(1)
            .and_then(|rest| rest.split('\\').next())
            .unwrap_or_default();
        assert!(
            names.contains(&name),
            "dashboard search: no metric {name} in mcp_oauth::metrics"
        );
        checked += 1;
    }
    assert!(
        checked >= 10,
        "expected alarms and widgets on the functions' own metrics, saw {checked}"
    );
}

#[test]
fn every_function_has_a_log_group_with_the_retention_parameter_and_errors_and_throttles_alarms() {
    let doc = doc();
    let groups: Vec<Value> = resources(&doc, "AWS::Logs::LogGroup")
        .into_iter()
        .map(|(_, g)| g["Properties"].clone())
        .collect();
    let alarms = alarms(&doc);
    for (id, _) in resources(&doc, "AWS::Serverless::Function") {
        let name = format!("/aws/lambda/${{{id}}}");
        let group = groups
            .iter()
            .find(|g| g.get("LogGroupName").and_then(scalar).as_deref() == Some(name.as_str()))
            .unwrap_or_else(|| panic!("{id}: no log group {name}"));
        assert_eq!(
            group.get("RetentionInDays").and_then(scalar).as_deref(),
            Some("LogRetentionDays"),
            "{id}: log group retention"
        );
        for metric in ["Errors", "Throttles"] {
            let found = alarms.iter().any(|(_, a)| {
                alarm_metrics(a).iter().any(|(ns, m, dims)| {
                    ns == "AWS/Lambda" && m == metric && dims.as_slice() == std::slice::from_ref(&id)
                })
            });
            assert!(found, "{id}: no alarm on its Lambda {metric}");
        }
    }
}

#[test]
fn every_table_has_a_throttle_alarm() {
    let doc = doc();
    let alarms = alarms(&doc);
    for (id, _) in resources(&doc, "AWS::DynamoDB::Table") {
        let found = alarms.iter().any(|(_, a)| {
            alarm_metrics(a).iter().any(|(ns, m, dims)| {
                ns == "AWS/DynamoDB" && m.ends_with("ThrottleEvents") && dims.as_slice() == std::slice::from_ref(&id)
            })
        });
        assert!(found, "{id}: no throttle alarm");
    }
}

#[test]
fn tables_of_users_clients_and_user_data_are_deletion_protected_and_retained() {
    let doc = doc();
    for table in [Table::Users, Table::Clients, Table::AppData] {
        let (id, res) = resources(&doc, "AWS::DynamoDB::Table")
            .into_iter()
            .find(|(_, r)| scalar(&r["Properties"]["TableName"]) == Some(format!("${{AWS::StackName}}-{table}")))
            .unwrap_or_else(|| panic!("no table resource for {table}"));
        assert_eq!(
            res["Properties"]["DeletionProtectionEnabled"].as_bool(),
            Some(true),
            "{id}: DeletionProtectionEnabled"
        );
        assert_eq!(
            res.get("DeletionPolicy").and_then(scalar).as_deref(),
            Some("Retain"),
            "{id}"
        );
    }
}
