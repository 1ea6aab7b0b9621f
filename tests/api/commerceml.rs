//! INT-1C-1: the CommerceML 2 exchange at `/1c-exchange`, driven as 1C drives it: checkauth →
//! init → file in several parts → import until success, with the fixture files of 1C.

use sdelka_tests::{
    ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, fixture_1c as fixture, plain_text as text,
};
use serde_json::Value;

/// `checkauth` with Basic credentials; answers the `Cookie` header value.
async fn checkauth(base: &str, client: &reqwest::Client, user: &str, password: &str) -> String {
    sdelka_tests::exchange_cookie(base, client, "catalog", user, password).await
}

async fn call(
    base: &str,
    client: &reqwest::Client,
    cookie: &str,
    query: &str,
    body: Option<Vec<u8>>,
) -> String {
    let url = format!("{base}/1c-exchange?{query}");
    let req = match body {
        Some(b) => client.post(url).body(b),
        None => client.get(url),
    };
    text(req.header("cookie", cookie).send().await.unwrap()).await
}

/// Posts `bytes` in `parts` pieces, then imports until `success`; answers the number of calls.
async fn upload_and_import(
    base: &str,
    client: &reqwest::Client,
    cookie: &str,
    filename: &str,
    bytes: &[u8],
) -> usize {
    let chunk = bytes.len().div_ceil(3);
    for part in bytes.chunks(chunk) {
        let a = call(
            base,
            client,
            cookie,
            &format!("type=catalog&mode=file&filename={filename}"),
            Some(part.to_vec()),
        )
        .await;
        assert!(a.starts_with("success"), "{a}");
    }
    let mut calls = 0;
    loop {
        calls += 1;
        assert!(calls < 100, "the import does not end");
        let a = call(
            base,
            client,
            cookie,
            &format!("type=catalog&mode=import&filename={filename}"),
            None,
        )
        .await;
        match a.lines().next() {
            Some("success") => return calls,
            Some("progress") => continue,
            _ => panic!("{a}"),
        }
    }
}

async fn items(app: &TestApp, path: &str) -> Vec<Value> {
    let res = app.get(path).await;
    assert_eq!(res.status(), 200, "{path}");
    let body: Value = res.json().await.unwrap();
    body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn catalog_and_offers_arrive_through_the_exchange_protocol() {
    let app = TestApp::spawn_with(|c| c.cml_import_step_items = 1).await;
    let (base, client) = (app.base.clone(), app.client.clone());

    // A wrong password is a failure, in the protocol's words.
    let res = client
        .get(format!("{base}/1c-exchange?type=catalog&mode=checkauth"))
        .basic_auth(ADMIN_EMAIL, Some("wrong password"))
        .send()
        .await
        .unwrap();
    let body = text(res).await;
    assert_eq!(body.lines().next(), Some("failure"), "{body}");
    // No cookie, no session.
    let body = call(&base, &client, "x=y", "type=catalog&mode=init", None).await;
    assert_eq!(body.lines().next(), Some("failure"), "{body}");

    let cookie = checkauth(&base, &client, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let init = call(&base, &client, &cookie, "type=catalog&mode=init", None).await;
    assert!(
        init.contains("zip=yes") && init.contains("file_limit="),
        "{init}"
    );

    let catalog = fixture("cml2.07_import_catalog.xml");
    let calls = upload_and_import(&base, &client, &cookie, "import.xml", &catalog).await;
    assert!(
        calls > 1,
        "a step budget of one item answers progress first"
    );

    // A second instance continues the same session: the offers go to it.
    let (other, other_base) = app.another_instance().await;
    let offers = fixture("cml2.07_offers.xml");
    upload_and_import(&other_base, &client, &cookie, "offers.xml", &offers).await;
    other.stop(true).await;

    let groups = items(&app, "/api/v1/product-groups?limit=200").await;
    assert!(groups.len() > 20);
    let top = groups
        .iter()
        .find(|g| g["name"] == "Бытовая техника")
        .unwrap();
    let child = groups
        .iter()
        .find(|g| g["external_id"] == "f3257ce7-9c2f-11e1-a282-0011955bd175")
        .unwrap();
    assert_eq!(child["parent_id"], top["id"]);

    let types = items(&app, "/api/v1/price-types").await;
    assert_eq!(types.len(), 1);
    assert_eq!(types[0]["name"], "Розничная");
    assert_eq!(types[0]["vat_included"], true);

    let products = items(&app, "/api/v1/products?limit=200").await;
    assert_eq!(products.len(), 2);
    let boots = products
        .iter()
        .find(|p| p["external_id"] == "bd72d910-55bc-11d9-848a-00112f43529a")
        .unwrap();
    assert_eq!(boots["name"], "Женские ботфорты коричневые");
    assert_eq!(boots["sku"], "Б-130001");
    assert_eq!(boots["unit_code"], "715");
    assert_eq!(boots["base_price"], "1719.00");
    let id = boots["id"].as_str().unwrap();
    let res = app.get(&format!("/api/v1/products/{id}/catalog")).await;
    assert_eq!(res.status(), 200);
    let cat: Value = res.json().await.unwrap();
    assert_eq!(cat["groups"][0]["name"], "Обувь");
    let offers = cat["offers"].as_array().unwrap();
    assert_eq!(offers.len(), 2);
    let first = offers
        .iter()
        .find(|o| {
            o["external_id"]
                == "bd72d910-55bc-11d9-848a-00112f43529a#90c55447-d3a8-11e4-9423-e0cb4ed5eed4"
        })
        .unwrap();
    assert_eq!(first["prices"][0]["price"], "1719.00");
    assert_eq!(first["prices"][0]["price_type"], "Розничная");
    assert_eq!(first["quantity"], "20");
    assert_eq!(first["stock"][0]["warehouse"], "Магазин \"Обувь\"");
    assert_eq!(first["stock"][0]["quantity"], "20");

    // Re-importing both files in a new session changes nothing.
    let before: Vec<Value> = items(&app, "/api/v1/products?limit=200").await;
    let cat_before = app
        .get(&format!("/api/v1/products/{id}/catalog"))
        .await
        .text()
        .await
        .unwrap();
    let cookie = checkauth(&base, &client, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    call(&base, &client, &cookie, "type=catalog&mode=init", None).await;
    upload_and_import(&base, &client, &cookie, "import.xml", &catalog).await;
    upload_and_import(&base, &client, &cookie, "offers.xml", &offers_bytes()).await;
    let after: Vec<Value> = items(&app, "/api/v1/products?limit=200").await;
    assert_eq!(before, after);
    let cat_after = app
        .get(&format!("/api/v1/products/{id}/catalog"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(cat_before, cat_after);
    assert_eq!(
        items(&app, "/api/v1/product-groups?limit=200").await.len(),
        groups.len()
    );
}

fn offers_bytes() -> Vec<u8> {
    fixture("cml2.07_offers.xml")
}

#[tokio::test]
async fn an_api_token_opens_a_session_and_a_zip_archive_is_unpacked() {
    let app = TestApp::spawn().await;
    let (base, client) = (app.base.clone(), app.client.clone());
    let res = app
        .post(
            "/api/v1/api-tokens",
            &serde_json::json!({"name": "1C", "roles": ["admin"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let token: Value = res.json().await.unwrap();
    let token = token["secret"].as_str().unwrap().to_owned();
    let cookie = checkauth(&base, &client, "1c", &token).await;
    call(&base, &client, &cookie, "type=catalog&mode=init", None).await;

    let mut zipped = std::io::Cursor::new(Vec::new());
    {
        use std::io::Write;
        let mut w = zip::ZipWriter::new(&mut zipped);
        let opts = zip::write::SimpleFileOptions::default();
        w.start_file("import.xml", opts).unwrap();
        w.write_all(&fixture("cml2.07_import_catalog.xml")).unwrap();
        w.finish().unwrap();
    }
    let a = call(
        &base,
        &client,
        &cookie,
        "type=catalog&mode=file&filename=catalog.zip",
        Some(zipped.into_inner()),
    )
    .await;
    assert!(a.starts_with("success"), "{a}");
    let a = call(
        &base,
        &client,
        &cookie,
        "type=catalog&mode=import&filename=import.xml",
        None,
    )
    .await;
    assert!(a.starts_with("success"), "{a}");
    assert_eq!(items(&app, "/api/v1/products").await.len(), 2);
}

fn catalog(id: &str, full: bool, products: &[(&str, &str)]) -> Vec<u8> {
    let items: String = products
        .iter()
        .map(|(pid, name)| {
            format!(
                "<Товар><Ид>{pid}</Ид><Наименование>{name}</Наименование>\
                 <БазоваяЕдиница Код=\"796\">шт</БазоваяЕдиница></Товар>"
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><КоммерческаяИнформация ВерсияСхемы=\"2.07\">\
         <Каталог СодержитТолькоИзменения=\"{}\"><Ид>{id}</Ид><Наименование>{id}</Наименование>\
         <Товары>{items}</Товары></Каталог></КоммерческаяИнформация>",
        !full
    )
    .into_bytes()
}

#[tokio::test]
async fn a_full_load_deactivates_only_its_own_catalog() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::new();
    let cookie = checkauth(&app.base, &client, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let a1 = "00000000-0000-4000-8000-00000000a001";
    let a2 = "00000000-0000-4000-8000-00000000a002";
    let b1 = "00000000-0000-4000-8000-00000000b001";
    for (file, bytes) in [
        (
            "import.xml",
            catalog("cat-a", true, &[(a1, "Кабель"), (a2, "Розетка")]),
        ),
        ("import.xml", catalog("cat-b", true, &[(b1, "Щиток")])),
    ] {
        call(&app.base, &client, &cookie, "type=catalog&mode=init", None).await;
        upload_and_import(&app.base, &client, &cookie, file, &bytes).await;
    }
    // A product made in the CRM with a GUID-shaped external id of its own.
    let res = app
        .post(
            "/api/v1/products",
            &serde_json::json!({"name": "Монтаж", "external_id": "00000000-0000-4000-8000-00000000c001"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    // Catalog A again, in full, without a2.
    call(&app.base, &client, &cookie, "type=catalog&mode=init", None).await;
    let bytes = catalog("cat-a", true, &[(a1, "Кабель")]);
    upload_and_import(&app.base, &client, &cookie, "import.xml", &bytes).await;
    let products = items(&app, "/api/v1/products?limit=100").await;
    let active = |ext: &str| {
        products
            .iter()
            .find(|p| p["external_id"] == ext)
            .unwrap_or_else(|| panic!("no product {ext}"))["active"]
            .clone()
    };
    assert_eq!(active(a1), true);
    assert_eq!(active(a2), false);
    assert_eq!(active(b1), true);
    assert_eq!(active("00000000-0000-4000-8000-00000000c001"), true);
    // The 1C id is kept under the source `1c`.
    let store = &app.server.as_ref().unwrap().state.store.conn;
    use sdelka_persistence::entity::external_id;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let kept = external_id::Entity::find()
        .filter(external_id::Column::RecordType.eq("product"))
        .filter(external_id::Column::Source.eq("1c"))
        .all(store)
        .await
        .unwrap();
    assert_eq!(kept.len(), 3);
}
