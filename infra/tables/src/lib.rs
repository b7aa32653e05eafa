//! Creates the DynamoDB tables on an emulator (tests, the benchmark) or for the dev server, from
//! the table resources of `template.yaml` itself: there is one definition of each table, not two.
//!
//! A crate of its own under `infra/` so that no Lambda links a YAML parser or carries the
//! template: only the dev server, the admin tool's tests, the benchmark and the tests use it.
//!
//! Not for: AWS. There, CloudFormation creates the tables from the same template.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use serde_norway::Value;

use mcp_oauth::store::{StoreError, StoreResult, Table};

/// The SAM template, compiled in so the definitions travel with the code.
pub const TEMPLATE: &str = include_str!("../../../template.yaml");

/// A table as `template.yaml` declares it.
#[derive(Debug, Clone, PartialEq)]
pub struct TableDef {
    pub table: Table,
    pub attributes: Vec<(String, String)>,
    pub hash_key: String,
    /// (index name, hash key, projection type)
    pub indexes: Vec<(String, String, String)>,
    pub ttl_attribute: Option<String>,
}

fn bad(msg: impl Into<String>) -> StoreError {
    StoreError::Corrupt(format!("template.yaml: {}", msg.into()))
}

/// A scalar, looking through a CloudFormation tag such as `!Sub`.
fn scalar(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        Value::Tagged(t) => scalar(&t.value),
        _ => None,
    }
}

fn str_field<'a>(v: &'a Value, field: &str) -> StoreResult<&'a str> {
    v.get(field)
        .and_then(scalar)
        .ok_or_else(|| bad(format!("missing {field}")))
}

fn hash_key(schema: &Value) -> StoreResult<String> {
    schema
        .as_sequence()
        .into_iter()
        .flatten()
        .find(|k| k.get("KeyType").and_then(scalar) == Some("HASH"))
        .and_then(|k| k.get("AttributeName").and_then(scalar))
        .map(str::to_owned)
        .ok_or_else(|| bad("KeySchema without HASH key"))
}

/// Every `AWS::DynamoDB::Table` in the template, mapped to its [`Table`].
pub fn table_defs(template: &str) -> StoreResult<Vec<TableDef>> {
    let doc: Value = serde_norway::from_str(template).map_err(|e| bad(e.to_string()))?;
    let resources = doc
        .get("Resources")
        .and_then(Value::as_mapping)
        .ok_or_else(|| bad("no Resources"))?;
    let mut defs = Vec::new();
    for (_, res) in resources {
        if res.get("Type").and_then(scalar) != Some("AWS::DynamoDB::Table") {
            continue;
        }
        let props = res.get("Properties").ok_or_else(|| bad("table without Properties"))?;
        let full_name = str_field(props, "TableName")?;
        let short = full_name
            .strip_prefix("${AWS::StackName}-")
            .ok_or_else(|| bad(format!("TableName {full_name} must be \"${{AWS::StackName}}-<name>\"")))?;
        let table = Table::from_name(short).ok_or_else(|| bad(format!("unknown table {short}")))?;
        let attributes = props
            .get("AttributeDefinitions")
            .and_then(Value::as_sequence)
            .ok_or_else(|| bad("missing AttributeDefinitions"))?
            .iter()
            .map(|a| {
                Ok((
                    str_field(a, "AttributeName")?.to_owned(),
                    str_field(a, "AttributeType")?.to_owned(),
                ))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let hash = hash_key(props.get("KeySchema").ok_or_else(|| bad("missing KeySchema"))?)?;
        let indexes = props
            .get("GlobalSecondaryIndexes")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .map(|i| {
                let projection = i.get("Projection").ok_or_else(|| bad("index without Projection"))?;
                Ok((
                    str_field(i, "IndexName")?.to_owned(),
                    hash_key(i.get("KeySchema").ok_or_else(|| bad("index without KeySchema"))?)?,
                    str_field(projection, "ProjectionType")?.to_owned(),
                ))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let ttl_attribute = props
            .get("TimeToLiveSpecification")
            .filter(|t| t.get("Enabled").and_then(Value::as_bool) == Some(true))
            .map(|t| str_field(t, "AttributeName").map(str::to_owned))
            .transpose()?;
        defs.push(TableDef {
            table,
            attributes,
            hash_key: hash,
            indexes,
            ttl_attribute,
        });
    }
    Ok(defs)
}

fn sdk(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// Creates every table of the template under `prefix` that does not exist yet, and turns on TTL.
pub async fn create_tables(client: &Client, prefix: &str) -> StoreResult<()> {
    for def in table_defs(TEMPLATE)? {
        let name = format!("{prefix}{}", def.table.name());
        let mut req = client
            .create_table()
            .table_name(&name)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(&def.hash_key)
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(sdk)?,
            );
        for (attr_name, kind) in &def.attributes {
            req = req.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(attr_name)
                    .attribute_type(ScalarAttributeType::from(kind.as_str()))
                    .build()
                    .map_err(sdk)?,
            );
        }
        for (index, key, projection) in &def.indexes {
            req = req.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(index)
                    .key_schema(
                        KeySchemaElement::builder()
                            .attribute_name(key)
                            .key_type(KeyType::Hash)
                            .build()
                            .map_err(sdk)?,
                    )
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::from(projection.as_str()))
                            .build(),
                    )
                    .build()
                    .map_err(sdk)?,
            );
        }
        match req.send().await {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => continue,
            Err(e) => return Err(sdk(DisplayErrorContext(e))),
        }
        if let Some(ttl) = &def.ttl_attribute {
            client
                .update_time_to_live()
                .table_name(&name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(ttl)
                        .enabled(true)
                        .build()
                        .map_err(sdk)?,
                )
                .send()
                .await
                .map_err(|e| sdk(DisplayErrorContext(e)))?;
        }
    }
    Ok(())
}
