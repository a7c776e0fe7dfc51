//! Disk faults root cannot ignore: a small tmpfs filled to the last byte, and
//! `chattr +i`. Each returns `None` where it cannot be made (no root, no tmpfs,
//! a file system without the immutable flag); the caller says so and passes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

fn run(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A tmpfs mounted on a directory for the length of a test.
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    pub fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        let at_str = at.to_str()?;
        let size = format!("size={size}");
        run("mount", &["-t", "tmpfs", "-o", &size, "tmpfs", at_str]).then(|| Tmpfs(at.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        run("umount", &["-l", &self.0.display().to_string()]);
    }
}

/// A file that takes every free byte of its file system until dropped.
pub struct Filler(PathBuf);

impl Filler {
    pub fn fill(dir: &Path) -> Filler {
        let path = dir.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
        // The last partial chunk, down to the byte.
        let mut byte = [0u8; 1];
        while file.write_all(&byte).is_ok() {
            byte[0] = byte[0].wrapping_add(1);
        }
        let _ = file.sync_all();
        Filler(path)
    }
}

impl Drop for Filler {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Files made immutable for the length of a test.
pub struct Immutable(Vec<PathBuf>);

impl Immutable {
    pub fn set(paths: &[PathBuf]) -> Option<Immutable> {
        let mut set = Immutable(Vec::new());
        for path in paths {
            if !run("chattr", &["+i", &path.display().to_string()]) {
                return None;
            }
            set.0.push(path.clone());
        }
        Some(set)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for path in &self.0 {
            run("chattr", &["-i", &path.display().to_string()]);
        }
    }
}
