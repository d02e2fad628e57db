//! The leak check the end-to-end tests share finds every form of a value it promises to find
//! (see `common::first_leak`), and does not cry wolf over the words a template gives everyone.

mod common;

use common::{email, file_names, first_leak, person, scratch, word};
use md5::{Digest as _, Md5};
use sha2::Sha256;

/// Every value of 50 [`common::person`]s, labelled by column.
fn originals() -> Vec<(&'static str, String)> {
    (0..50)
        .flat_map(|i| {
            let p = person(i);
            [
                ("email", p.email),
                ("name", p.name),
                ("phone", p.phone),
                ("address", p.address),
                ("postcode", p.postcode),
                ("birth_date", p.birth_date),
            ]
        })
        .chain([("note", r#"O'Brien said "no" \ 5"#.to_owned())])
        .collect()
}

/// What the check finds in a haystack holding only `planted`, among made-up output.
fn found(planted: &str) -> Result<usize, String> {
    let haystack = format!(
        "id,email,name,address\n7,u3f9cqqpvhwgqcil3buxjpzxxl@anonymised.invalid,Matilda Wuckert,12 Main Street\n8,{planted},x\n"
    );
    first_leak(originals(), haystack.as_bytes())
}

#[test]
fn every_promised_form_of_a_value_is_found() {
    let (mail, p) = (email(3), person(3));
    let md5 = format!("{:x}", Md5::digest(mail.as_bytes()));
    let sha = format!("{:x}", Sha256::digest(mail.as_bytes()));
    let local = mail.split_once('@').unwrap().0.to_owned();
    let note = r#"O'Brien said "no" \ 5"#;
    for (planted, label) in [
        (mail.clone(), "email: the value"),
        (mail.to_uppercase(), "email: the value"),
        (md5.clone(), "email: its md5"),
        (md5[..8].to_owned(), "email: the first 8 of its md5"),
        (md5[..8].to_uppercase(), "email: the first 8 of its md5"),
        (sha[..8].to_owned(), "email: the first 8 of its sha256"),
        (sha.to_uppercase(), "email: its sha256"),
        (mail.replace('@', "%40"), "email: the value, URL-encoded"),
        (local.clone(), "email: its local part"),
        (
            local.split('.').next().unwrap().to_owned(),
            "email: a word of it",
        ),
        (word(3, 4), "name: a word of it"),
        (word(3, 3).to_lowercase(), "name: a word of it"),
        (p.name.replace(' ', "+"), "name: the value, form-encoded"),
        (word(3, 5), "address: a word of it"),
        (note.replace('\'', "''"), "note: the value, SQL-quoted"),
        (note.replace('"', "\"\""), "note: the value, CSV-quoted"),
        (
            note.replace('\\', "\\\\").replace('"', "\\\""),
            "note: the value, JSON-escaped",
        ),
    ] {
        assert_eq!(found(&planted), Err(label.to_owned()), "{planted}");
    }
}

#[test]
fn a_file_named_after_a_value_is_found() {
    let dir = scratch("leak-check-names");
    std::fs::create_dir_all(dir.join("out")).unwrap();
    std::fs::write(dir.join("out").join(format!("{}.csv", email(5))), "id\n1\n").unwrap();
    assert_eq!(
        first_leak(originals(), &file_names(&dir)),
        Err("email: the value".to_owned())
    );
}

#[test]
fn the_words_every_person_shares_and_made_up_output_are_not_leaks() {
    // `Street` ends every address; the rest is what a run writes.
    assert_eq!(found("Street"), Ok(50 * 6 + 1));
}
