//! The dependency graph stays free of OpenSSL (issue 14): cronbox must
//! cross-build for a Raspberry Pi (`aarch64`, `armv7`) with only a plain cross
//! C compiler, and OpenSSL would need the target's OpenSSL headers and
//! libraries (a sysroot) besides. Reads Cargo.lock, which names every crate the
//! build may use, dev-dependencies included.

/// The crates that bring OpenSSL in: its bindings, its wrapper, and
/// `native-tls`, which is OpenSSL on Linux.
const FORBIDDEN: &[&str] = &["openssl-sys", "openssl", "native-tls"];

/// The names of the packages in a Cargo.lock (`name = "..."` of each `[[package]]`).
fn locked_packages(lock: &str) -> Vec<&str> {
    lock.split("[[package]]")
        .skip(1)
        .filter_map(|package| {
            package
                .lines()
                .find_map(|line| line.trim().strip_prefix("name = "))
                .map(|name| name.trim_matches('"'))
        })
        .collect()
}

#[test]
fn cargo_lock_has_no_openssl_so_the_pi_cross_build_needs_only_a_cross_c_compiler() {
    let lock = include_str!("../Cargo.lock");
    let packages = locked_packages(lock);
    assert!(
        packages.contains(&"cronbox") && packages.len() > 50,
        "Cargo.lock was not read as expected: {} packages",
        packages.len()
    );
    let found: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|name| FORBIDDEN.contains(name))
        .collect();
    assert!(
        found.is_empty(),
        "Cargo.lock now holds {found:?}: OpenSSL would break the cross-build for a Raspberry Pi \
         (aarch64/armv7 need only a cross C compiler; OpenSSL needs the target's headers and \
         libraries too). Use rustls instead: disable the crate's default features and pick its \
         rustls one (`cargo tree -i {}` shows what pulls it in).",
        found[0]
    );
}

#[test]
fn the_guard_sees_an_openssl_package() {
    let lock = "version = 4\n\n[[package]]\nname = \"cronbox\"\nversion = \"0.1.0\"\n\n\
                [[package]]\nname = \"openssl-sys\"\nversion = \"0.9.0\"\n\n\
                [[package]]\nname = \"native-tls\"\nversion = \"0.2.0\"\n";
    assert_eq!(
        locked_packages(lock),
        ["cronbox", "openssl-sys", "native-tls"]
    );
}
