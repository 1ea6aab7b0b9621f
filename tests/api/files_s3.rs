//! Files on several instances: an S3-compatible file store (`SDELKA_FILES_URL=s3://…`),
//! against a real local S3 server (moto). Two instances share the database and the bucket and
//! nothing else: a file uploaded through one is downloaded through the other, and an import
//! queued on one is run by the other's worker.

use std::time::Duration;

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use sdelka_tests::s3::S3Server;
use sdelka_tests::{TestApp, eventually};
use serde_json::{Value, json};

const BUCKET: &str = "sdelka-files";

async fn json_of(res: reqwest::Response) -> Value {
    res.json().await.unwrap()
}

/// Every file under a data folder (the local store's files, staging included).
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn a_pdf() -> Vec<u8> {
    let mut v = b"%PDF-1.4\n".to_vec();
    // Larger than one S3 part buffer would be wasteful in a test; 300 KiB of varied bytes.
    v.extend((0..300 * 1024).map(|i: usize| b'a' + (i % 26) as u8));
    v
}

#[tokio::test]
async fn a_file_uploaded_through_one_instance_downloads_through_another() {
    let s3 = S3Server::start().await;
    s3.create_bucket(BUCKET).await;
    let a = TestApp::spawn_with(|c| s3.configure(c, BUCKET, "crm/attachments")).await;
    let b = a
        .spawn_beside(|c| s3.configure(c, BUCKET, "crm/attachments"))
        .await;
    assert_ne!(a.data_dir, b.data_dir);

    let res = a
        .post("/api/v1/companies", &json!({"name": "ТСЖ «Ромашка»"}))
        .await;
    assert_eq!(res.status(), 201);
    let company = json_of(res).await["id"].as_str().unwrap().to_owned();
    let bytes = a_pdf();
    let form = Form::new()
        .text("entity_type", "company")
        .text("entity_id", company.clone())
        .text("document_type", "contract")
        .part(
            "file",
            Part::bytes(bytes.clone())
                .file_name("Договор №17.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        );
    let res = a
        .request(Method::POST, "/api/v1/files", &a.admin_token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let file = json_of(res).await;
    let id = file["id"].as_str().unwrap().to_owned();

    // The bytes are in the bucket, under the prefix, and on neither instance's disk.
    let keys = s3.keys(BUCKET, "crm/attachments/").await;
    assert_eq!(keys.len(), 1, "{keys:?}\n{}", s3.log());
    for app in [&a, &b] {
        let local: Vec<_> = files_under(&app.data_dir.join("files"));
        assert!(local.is_empty(), "nothing is kept on local disk: {local:?}");
    }

    // The other instance serves it.
    let res = b
        .request(
            Method::GET,
            &format!("/api/v1/files/{id}/content"),
            &b.admin_token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice());
}

#[tokio::test]
async fn an_import_queued_on_one_instance_runs_on_another_from_the_bucket() {
    let s3 = S3Server::start().await;
    s3.create_bucket(BUCKET).await;
    // The first instance only takes requests; the second runs the background workers.
    let front = TestApp::spawn_with(|c| {
        s3.configure(c, BUCKET, "imports");
        c.workers = false;
    })
    .await;
    let worker = front
        .spawn_beside(|c| {
            s3.configure(c, BUCKET, "imports");
            c.workers = true;
            c.import_poll_ms = 50;
        })
        .await;
    let mut csv = String::from("Наименование;Отрасль\n");
    for i in 1..=300 {
        csv.push_str(&format!("ТСЖ «Дом {i}»;ЖКХ\n"));
    }
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(&csv);
    let form = Form::new()
        .text("entity", "companies")
        .text(
            "mapping",
            r#"{"Наименование": "name", "Отрасль": "industry"}"#,
        )
        .part(
            "file",
            Part::bytes(bytes.into_owned())
                .file_name("companies.csv")
                .mime_str("text/csv; charset=windows-1251")
                .unwrap(),
        );
    let res = front
        .request(Method::POST, "/api/v1/imports", &front.admin_token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    let job = json_of(res).await;
    assert_eq!(job["encoding"], "windows-1251");
    let path = format!("/api/v1/imports/{}", job["id"].as_str().unwrap());
    assert_eq!(
        s3.keys(BUCKET, "imports/").await.len(),
        1,
        "the queued file waits in the bucket"
    );
    let done = eventually(Duration::from_secs(300), || async {
        let j = json_of(front.get(&path).await).await;
        (j["state"] == "completed" || j["state"] == "failed").then_some(j)
    })
    .await
    .expect("the import finishes");
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(done["created_count"], 300, "{done}");
    let page = json_of(
        front
            .get("/api/v1/companies?q=%D0%94%D0%BE%D0%BC%20300")
            .await,
    )
    .await;
    assert_eq!(page["items"][0]["name"], "ТСЖ «Дом 300»", "{page}");
    // Once run, the file is removed from the bucket.
    let left = eventually(Duration::from_secs(30), || async {
        let keys = s3.keys(BUCKET, "imports/").await;
        keys.is_empty().then_some(())
    })
    .await;
    assert!(
        left.is_some(),
        "the import's file is removed once it has run"
    );
    drop(worker);
}

#[tokio::test]
async fn an_unreachable_bucket_stops_the_instance_from_starting() {
    let s3 = S3Server::start().await;
    // No bucket created: the instance refuses to start rather than lose uploads later.
    let mut config = sdelka_tests::test_config(&sdelka_tests::temp_dir(), "sqlite::memory:");
    s3.configure(&mut config, "no-such-bucket", "");
    let started = sdelka_api::server::build_state(config).await;
    let err = started.err().expect("no instance on a missing bucket");
    assert!(err.to_string().contains("S3"), "{err}");
}
