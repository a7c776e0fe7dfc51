fn main() {
    // sqlx::migrate! embeds migrations/ at compile time; a new file must rebuild the crate.
    println!("cargo:rerun-if-changed=migrations");
}
