//! `template.yaml` checked against the code: every table the store uses is declared once with TTL
//! on `expires_at` and the indexes its queries need, tables are recoverable and encrypted, and
//! every function is an arm64 cargo-lambda build of a crate that exists. Linters miss some of this
//! (an invalid `Runtime`, a misspelt method), so it is checked here.

use std::collections::BTreeMap;
use std::path::Path;

use mcp_oauth::store::Table;
use mcp_oauth::store::bootstrap::{TEMPLATE, TableDef, table_defs};
use mcp_oauth::store::tables::{attr, index};
use serde_norway::Value;

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
