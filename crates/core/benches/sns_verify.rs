//! Verifying a real SNS notification with a certificate already parsed (the
//! deliver function's steady state: certificates are cached per container).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hookbridge_core::sns::{SigningCertificate, SnsMessage};

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/testdata/sns/");

fn read(name: &str) -> Vec<u8> {
    std::fs::read(format!("{TESTDATA}{name}")).expect("the shared SNS fixtures are present")
}

fn verify_notifications(c: &mut Criterion) {
    let certificate = SigningCertificate::from_pem(&read(
        "SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem",
    ))
    .expect("the fixture certificate parses");
    for (name, file) in [
        ("sns_verify_v1", "notification-v1.json"),
        ("sns_verify_v2", "notification-v2.json"),
    ] {
        let body = read(file);
        // Parsing alone, to tell its share from the RSA check's.
        c.bench_function(&name.replace("verify", "parse"), |b| {
            b.iter(|| SnsMessage::parse(black_box(&body)).expect("fixture parses"))
        });
        c.bench_function(name, |b| {
            b.iter(|| {
                let message = SnsMessage::parse(black_box(&body)).expect("fixture parses");
                message.verify(&certificate).expect("fixture verifies");
            })
        });
    }
}

criterion_group!(benches, verify_notifications);
criterion_main!(benches);
