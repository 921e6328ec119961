//! Forged, tampered and misused access tokens: each is 401 `unauthorized`
//! with `error="invalid_token"`.

use auth_tests::{TestApp, TestEnv, email};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jws::{EdDSA, HS256, JwsHeader};
use josekit::jwt::{self, JwtPayload};
use serde_json::{Value, json};

struct Forge {
    pem: Vec<u8>,
    kid: String,
    sub: String,
    sid: String,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

impl Forge {
    async fn new(env: &TestEnv, app: &TestApp) -> (Self, Value) {
        let login = app.verified_login(&email("attack")).await;
        let jwks = app.get("/.well-known/jwks.json").await;
        let forge = Self {
            pem: std::fs::read(&env.key_file).unwrap(),
            kid: jwks.body["keys"][0]["kid"].as_str().unwrap().to_owned(),
            sub: login.body["user"]["id"].as_str().unwrap().to_owned(),
            sid: login.str("session_id"),
        };
        (forge, login.body)
    }

    fn claims(&self) -> Value {
        let now = now();
        json!({
            "iss": "auth-service", "aud": ["auth-service"], "sub": self.sub, "email": "attack@example.com",
            "email_verified": true, "roles": ["user", "admin"], "sid": self.sid, "jti": "forged",
            "iat": now, "nbf": now, "exp": now + 600,
        })
    }

    fn sign(&self, claims: &Value, typ: Option<&str>, kid: Option<&str>) -> String {
        let mut header = JwsHeader::new();
        if let Some(typ) = typ {
            header.set_token_type(typ);
        }
        if let Some(kid) = kid {
            header.set_key_id(kid);
        }
        let payload = JwtPayload::from_map(claims.as_object().unwrap().clone()).unwrap();
        let signer = EdDSA.signer_from_pem(&self.pem).unwrap();
        jwt::encode_with_signer(&payload, &header, &signer).unwrap()
    }

    fn good(&self) -> String {
        self.sign(&self.claims(), Some("at+jwt"), Some(&self.kid))
    }

    fn with(&self, field: &str, value: Value) -> String {
        let mut claims = self.claims();
        claims[field] = value;
        self.sign(&claims, Some("at+jwt"), Some(&self.kid))
    }
}

async fn assert_rejected(app: &TestApp, token: &str, what: &str) {
    let reply = app.get_authed("/api/v1/auth/me", token).await;
    assert_eq!(reply.status, 401, "{what}: {}", reply.text);
    assert_eq!(reply.code(), "unauthorized", "{what}");
    assert_eq!(
        reply.header("www-authenticate"),
        Some(r#"Bearer realm="auth-service", error="invalid_token""#),
        "{what}"
    );
    let validated = app
        .post("/api/v1/auth/validate", &json!({ "token": token }))
        .await;
    assert_eq!(validated.body, json!({ "active": false }), "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_misused_tokens_are_rejected() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let (forge, login) = Forge::new(&env, &app).await;

    // The forge itself is right: a token it signs with the real key passes.
    assert_eq!(
        app.get_authed("/api/v1/auth/me", &forge.good())
            .await
            .status,
        200
    );

    let encode = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let none = format!(
        "{}.{}.",
        encode(&json!({ "alg": "none", "typ": "at+jwt", "kid": forge.kid })),
        encode(&forge.claims())
    );
    assert_rejected(&app, &none, "alg none").await;

    let public_pem = josekit::jwk::alg::ed::EdKeyPair::from_pem(&forge.pem).unwrap();
    let public_pem = josekit::jwk::KeyPair::to_pem_public_key(&public_pem);
    let mut header = JwsHeader::new();
    header.set_token_type("at+jwt");
    header.set_key_id(&forge.kid);
    let payload = JwtPayload::from_map(forge.claims().as_object().unwrap().clone()).unwrap();
    let confused = jwt::encode_with_signer(
        &payload,
        &header,
        &HS256.signer_from_bytes(&public_pem).unwrap(),
    )
    .unwrap();
    assert_rejected(&app, &confused, "HS256 signed with the public key").await;

    assert_rejected(
        &app,
        &forge.sign(&forge.claims(), Some("at+jwt"), Some("someone-else")),
        "foreign kid",
    )
    .await;
    assert_rejected(
        &app,
        &forge.sign(&forge.claims(), Some("at+jwt"), None),
        "missing kid",
    )
    .await;
    assert_rejected(
        &app,
        &forge.sign(&forge.claims(), Some("JWT"), Some(&forge.kid)),
        "wrong typ",
    )
    .await;
    assert_rejected(
        &app,
        &forge.sign(&forge.claims(), None, Some(&forge.kid)),
        "no typ",
    )
    .await;
    assert_rejected(&app, &forge.with("iss", json!("evil")), "wrong iss").await;
    assert_rejected(
        &app,
        &forge.with("aud", json!(["other-service"])),
        "wrong aud",
    )
    .await;
    assert_rejected(
        &app,
        &forge.with("exp", json!(now() - 10)),
        "expired beyond the leeway",
    )
    .await;
    assert_rejected(&app, &forge.with("nbf", json!(now() + 60)), "not yet valid").await;

    let real = login["access_token"].as_str().unwrap();
    let parts: Vec<&str> = real.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["roles"] = json!(["admin"]);
    let tampered_payload = format!("{}.{}.{}", parts[0], encode(&claims), parts[2]);
    assert_rejected(&app, &tampered_payload, "tampered payload").await;
    let mut signature = parts[2].to_owned();
    signature.replace_range(
        0..2,
        if signature.starts_with("AA") {
            "BB"
        } else {
            "AA"
        },
    );
    assert_rejected(
        &app,
        &format!("{}.{}.{signature}", parts[0], parts[1]),
        "tampered signature",
    )
    .await;

    assert_rejected(
        &app,
        login["refresh_token"].as_str().unwrap(),
        "a refresh token as access token",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_within_the_leeway_is_accepted() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let (forge, _) = Forge::new(&env, &app).await;
    // tokens.leeway is 5s: a token that expired 2s ago still passes.
    let token = forge.with("exp", json!(now() - 2));
    assert_eq!(app.get_authed("/api/v1/auth/me", &token).await.status, 200);
}
