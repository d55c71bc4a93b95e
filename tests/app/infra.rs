//! `infra/cognito.yaml` checked against the app itself: the app client's callback and sign-out
//! URLs, its flow and scopes, the admins group and the stack's outputs follow the app's own
//! routes and settings, so renaming one of them breaks CI instead of a deploy.
//!
//! The template is plain CloudFormation YAML with the short-form tags (`!Sub`, `!Ref`, `!If`,
//! ...). saphyr keeps a custom tag on the node it marks, so `!Sub` strings are recognised as such
//! and substituted here the way CloudFormation would.

use std::cell::RefCell;
use std::collections::BTreeSet;

use cognito_web::auth::ADMIN_GROUP;
use cognito_web::config::{Config, IdpConfig};
use saphyr::{LoadableYamlNode, Yaml};

const TEMPLATE: &str = include_str!("../../infra/cognito.yaml");

/// The base URLs the template is checked with: at the root of a host, and under a path.
const BASE_URLS: [&str; 2] = ["https://app.example.com", "https://example.com/app"];

#[test]
fn the_callback_url_is_the_redirect_uri_the_app_sends() {
    let client = resource("AWS::Cognito::UserPoolClient");

    for base in BASE_URLS {
        let config = config_for(base);

        let callbacks: Vec<String> = sequence(&client["CallbackURLs"])
            .iter()
            .map(|url| sub(url, &[("AppBaseUrl", base)]))
            .collect();

        let redirect_uri = config.redirect_uri();
        assert_eq!(callbacks, [redirect_uri.as_str()], "APP_BASE_URL={base}");
        let callback = url::Url::parse(&callbacks[0]).unwrap();
        assert_eq!(callback.path(), redirect_uri.path());
    }
}

#[test]
fn the_sign_out_url_is_the_default_logout_uri() {
    let client = resource("AWS::Cognito::UserPoolClient");

    for base in BASE_URLS {
        let config = config_for(base);

        let logout_urls: Vec<String> = sequence(&client["LogoutURLs"])
            .iter()
            .map(|url| sub(url, &[("AppBaseUrl", base)]))
            .collect();

        assert_eq!(
            logout_urls,
            [config.logout_uri.as_str()],
            "APP_BASE_URL={base}"
        );
    }
}

#[test]
fn the_app_client_allows_only_the_code_flow_and_the_scopes_the_app_asks_for() {
    let client = resource("AWS::Cognito::UserPoolClient");
    let config = config_for(BASE_URLS[0]);

    let flows = strings(&client["AllowedOAuthFlows"]);
    let scopes: BTreeSet<&str> = strings(&client["AllowedOAuthScopes"]).into_iter().collect();

    assert_eq!(flows, ["code"]);
    assert_eq!(
        client["AllowedOAuthFlowsUserPoolClient"].as_bool(),
        Some(true)
    );
    let asked: BTreeSet<&str> = config.scopes.iter().map(String::as_str).collect();
    assert_eq!(scopes, asked);
    assert_eq!(strings(&client["SupportedIdentityProviders"]), ["COGNITO"]);
}

#[test]
fn the_app_client_has_a_secret_and_revocation_for_sign_out() {
    let client = resource("AWS::Cognito::UserPoolClient");

    let generate_secret = client["GenerateSecret"].as_bool();
    let revocation = client["EnableTokenRevocation"].as_bool();

    assert_eq!(generate_secret, Some(true));
    assert_eq!(revocation, Some(true));
}

#[test]
fn the_group_is_the_one_the_admin_page_requires() {
    let group = resource("AWS::Cognito::UserPoolGroup");

    let name = group["GroupName"].as_str();

    assert_eq!(name, Some(ADMIN_GROUP));
}

#[test]
fn every_cognito_output_is_named_after_a_setting_the_app_reads() {
    let template = template();
    let outputs = mapping_keys(&template["Outputs"]);
    let read = RefCell::new(BTreeSet::new());
    let values = cognito_settings_from_outputs();

    let config = Config::from_lookup(|name| {
        read.borrow_mut().insert(name.to_owned());
        values.get(name)
    });

    assert!(matches!(config.unwrap().idp, IdpConfig::Cognito(_)));
    let read = read.into_inner();
    let settings: BTreeSet<String> = outputs
        .iter()
        .filter(|name| name.starts_with("Cognito"))
        .map(|name| screaming_snake(name))
        .collect();
    let expected: BTreeSet<String> = ["COGNITO_CLIENT_ID", "COGNITO_DOMAIN", "COGNITO_ISSUER"]
        .map(str::to_owned)
        .into();
    assert_eq!(settings, expected);
    assert!(settings.is_subset(&read), "the app reads {read:?}");
    assert!(read.contains("COGNITO_CLIENT_SECRET"));
    assert!(outputs.contains(&"ClientSecretCommand"));
}

#[test]
fn the_outputs_are_values_the_app_accepts_as_its_cognito_settings() {
    let values = cognito_settings_from_outputs();

    let config = Config::from_lookup(|name| values.get(name)).expect("the outputs are valid");

    let IdpConfig::Cognito(cognito) = config.idp else {
        panic!("the outputs configure Cognito, not the development IdP");
    };
    assert_eq!(
        cognito.domain.as_str(),
        "https://myapp.auth.eu-west-1.amazoncognito.com/"
    );
    assert_eq!(
        cognito.issuer.as_str(),
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"
    );
    assert_eq!(cognito.client_id, "1example23456789abcdefghij");
}

#[test]
fn the_outputs_print_a_command_for_the_client_secret_but_never_the_secret() {
    let template = template();
    let outputs = &template["Outputs"];

    let command = sub(&outputs["ClientSecretCommand"]["Value"], &sample_stack());

    assert_eq!(
        command,
        "aws cognito-idp describe-user-pool-client --region eu-west-1 \
         --user-pool-id eu-west-1_AbCdEf123 --client-id 1example23456789abcdefghij \
         --query UserPoolClient.ClientSecret --output text"
    );
    let client = logical_id("AWS::Cognito::UserPoolClient");
    for name in mapping_keys(outputs) {
        let value = format!("{:?}", outputs[name]["Value"]);
        assert!(
            !value.contains(&format!("{client}.ClientSecret")),
            "{name} must not carry the secret"
        );
    }
}

// ---- helpers -------------------------------------------------------------------------------

/// The app's settings for `APP_BASE_URL=base`, everything else at its default.
fn config_for(base: &str) -> Config {
    Config::from_lookup(|name| (name == "APP_BASE_URL").then(|| base.to_owned()))
        .expect("a plain APP_BASE_URL is valid")
}

/// What CloudFormation would put in for the parameters and references of a stack deployed as the
/// README says, in eu-west-1.
fn sample_stack() -> [(&'static str, &'static str); 5] {
    [
        ("AppBaseUrl", BASE_URLS[0]),
        ("DomainPrefix", "myapp"),
        ("AWS::Region", "eu-west-1"),
        ("UserPool", "eu-west-1_AbCdEf123"),
        ("AppClient", "1example23456789abcdefghij"),
    ]
}

/// The settings the README has the user write into `.env`, with the outputs' values.
struct Settings(Vec<(String, String)>);

impl Settings {
    fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    }
}

fn cognito_settings_from_outputs() -> Settings {
    let template = template();
    let outputs = &template["Outputs"];
    let output = |name: &str| sub(&outputs[name]["Value"], &sample_stack());
    Settings(
        [
            ("APP_BASE_URL", BASE_URLS[0].to_owned()),
            ("COGNITO_DOMAIN", output("CognitoDomain")),
            ("COGNITO_ISSUER", output("CognitoIssuer")),
            (
                "COGNITO_CLIENT_ID",
                ref_value(&outputs["CognitoClientId"]["Value"]),
            ),
            ("COGNITO_CLIENT_SECRET", "example-client-secret".to_owned()),
            // 66 zero bytes: long enough, and this test never encrypts anything.
            ("APP_SECRET", "A".repeat(88)),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect(),
    )
}

fn template() -> Yaml<'static> {
    Yaml::load_from_str(TEMPLATE)
        .expect("infra/cognito.yaml is YAML")
        .into_iter()
        .next()
        .expect("infra/cognito.yaml has a document")
}

/// The `Properties` of the one resource of this type.
fn resource(type_name: &str) -> Yaml<'static> {
    let template = template();
    template["Resources"][logical_id(type_name).as_str()]["Properties"].clone()
}

/// The logical id of the one resource of this type.
fn logical_id(type_name: &str) -> String {
    let template = template();
    let resources = template["Resources"].as_mapping().expect("Resources");
    let mut found = resources
        .iter()
        .filter(|(_, resource)| resource["Type"].as_str() == Some(type_name))
        .map(|(id, _)| id.as_str().expect("a plain logical id").to_owned());
    let id = found.next().expect("the template has the resource");
    assert!(found.next().is_none(), "one {type_name} only");
    id
}

fn mapping_keys<'a>(node: &'a Yaml<'_>) -> Vec<&'a str> {
    node.as_mapping()
        .expect("a mapping")
        .keys()
        .map(|key| key.as_str().expect("a plain key"))
        .collect()
}

fn sequence<'a, 'input>(node: &'a Yaml<'input>) -> &'a [Yaml<'input>] {
    node.as_vec().expect("a sequence")
}

/// A sequence of plain strings.
fn strings<'a>(node: &'a Yaml<'_>) -> Vec<&'a str> {
    sequence(node)
        .iter()
        .map(|item| item.as_str().expect("a plain string"))
        .collect()
}

/// The node's tag, `!Sub` read as `Sub`, and the node it marks.
fn tagged<'a, 'input>(node: &'a Yaml<'input>) -> (&'a str, &'a Yaml<'input>) {
    match node {
        Yaml::Tagged(tag, inner) if tag.handle == "!" => (tag.suffix.as_str(), inner),
        other => panic!("expected a short-form intrinsic function, got {other:?}"),
    }
}

/// `!Ref Name`, resolved against the sample stack.
fn ref_value(node: &Yaml<'_>) -> String {
    let (function, inner) = tagged(node);
    assert_eq!(function, "Ref");
    let name = inner.as_str().expect("!Ref names a string");
    lookup(&sample_stack(), name)
}

/// `!Sub "...${Name}..."` with each `${Name}` replaced from `vars`; every one must be known.
fn sub(node: &Yaml<'_>, vars: &[(&str, &str)]) -> String {
    let (function, inner) = tagged(node);
    assert_eq!(function, "Sub");
    let mut rest = inner.as_str().expect("!Sub of a plain string");
    let mut out = String::new();
    while let Some(start) = rest.find("${") {
        let end = rest[start..].find('}').expect("a closed ${...}") + start;
        out.push_str(&rest[..start]);
        out.push_str(&lookup(vars, &rest[start + 2..end]));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn lookup(vars: &[(&str, &str)], name: &str) -> String {
    vars.iter()
        .find(|(key, _)| *key == name)
        .map(|(_, value)| (*value).to_owned())
        .unwrap_or_else(|| panic!("the test does not know ${{{name}}}"))
}

/// `CognitoClientId` -> `COGNITO_CLIENT_ID`.
fn screaming_snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}
