//! Command-line definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub const DEFAULT_CONFIG_PATH: &str = "/etc/image-refresh/image-refresh.toml";

#[derive(Debug, Parser)]
#[command(
    name = "image-refresh",
    // The package version and the git commit it was built from (see build.rs).
    version = env!("IMAGE_REFRESH_VERSION"),
    about = "Keeps golden VM images patched: checks Azure for newer base images and rebuilds stale ones with Azure VM Image Builder"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The catalog file.
    #[arg(long, global = true, env = "IMAGE_REFRESH_CONFIG", default_value = DEFAULT_CONFIG_PATH)]
    pub config: PathBuf,

    /// The history database; overrides `[store] database` in the catalog.
    #[arg(long, global = true, env = "IMAGE_REFRESH_DATABASE")]
    pub database: Option<PathBuf>,

    /// More log output (-v debug, -vv trace). RUST_LOG, when set, wins.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Less output: warnings and errors only.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned table for people.
    #[default]
    Table,
    /// JSON for scripts.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the catalog and show each image's recipe hash.
    Validate {
        #[arg(long, value_enum, default_value_t)]
        output: Output,
        /// Also ask Azure (read-only) whether everything the catalog names
        /// exists and fits: credential, subscription, groups, identity,
        /// provider, regions, sources and gallery definitions.
        #[arg(long)]
        online: bool,
    },
    /// Decide which images are stale and why; changes nothing in Azure.
    ///
    /// Exit code 0: nothing is stale; 3: at least one image is stale; 1: some
    /// image's staleness could not be told, or the check failed.
    Check {
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Build the named images now (only if stale, unless --force).
    Build {
        /// Images to build, by catalog name.
        #[arg(required = true)]
        images: Vec<String>,
        /// Build even if the image is up to date.
        #[arg(long)]
        force: bool,
        /// Build a new base version now, before its `min_base_age` passed (an
        /// urgent security fix); the build's reason records it.
        #[arg(long)]
        skip_soak: bool,
        /// Follow the builds to the end, showing AIB progress.
        #[arg(long)]
        wait: bool,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Run the service: check on schedule and rebuild what is stale.
    Run {
        /// One check cycle with its builds, then exit.
        #[arg(long)]
        once: bool,
        /// With --once: the cycle's plan and builds as JSON.
        #[arg(long, value_enum, default_value_t, requires = "once")]
        output: Output,
    },
    /// Let the service rebuild an image again after it disabled it (failed
    /// builds in a row) or an operator did; resets the failure count.
    Enable {
        /// The image, by catalog name.
        image: String,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Stop the service from rebuilding an image until `enable`.
    Disable {
        /// The image, by catalog name.
        image: String,
        /// Shown by `status`.
        #[arg(long, default_value = "disabled by an operator")]
        reason: String,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Take a gallery image version out of `latest` in every region, so that
    /// new VMs and scale-outs get the previous good version; records who and
    /// why, never deletes it, and it is never promoted again.
    Revoke {
        /// The image, by catalog name.
        image: String,
        /// The gallery image version, e.g. 1.0.3.
        version: String,
        /// Why; kept in the history and shown by `status`.
        #[arg(long)]
        reason: String,
        /// Who asks; the login name of the user running the command by default.
        #[arg(long)]
        by: Option<String>,
        /// Revoke even if no other version is left for `latest` somewhere.
        #[arg(long)]
        force: bool,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Promote a staged gallery image version: make it `latest` in its next
    /// ring's regions now (a `promotion = "manual"` target, or a ring ahead of
    /// its delay).
    Promote {
        /// The image, by catalog name.
        image: String,
        /// The staged version, e.g. 1.0.3; the newest staged one by default.
        #[arg(long)]
        version: Option<String>,
        /// Every remaining ring at once, not only the next.
        #[arg(long)]
        all: bool,
        /// Who asks; the login name of the user running the command by default.
        #[arg(long)]
        by: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// The whole job in under a minute on the bundled Azure simulator and a
    /// temporary database; touches nothing outside a temporary folder.
    #[cfg(feature = "simulator")]
    Demo,
    /// Show recorded builds, newest first.
    History {
        /// Only this image.
        #[arg(long)]
        image: Option<String>,
        /// At most this many builds.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Print a build's customization.log (AIB's log of every step), or with
    /// --url only where it is.
    Logs {
        /// The build: its id, or the first 8 characters `history` shows.
        build: String,
        /// Print the log's address only; needs no Azure access.
        #[arg(long)]
        url: bool,
    },
    /// Notifications: `notify test` sends a test event to every `[[notify]]` sink.
    Notify {
        #[command(subcommand)]
        action: NotifyAction,
    },
    /// One row per image: last build, result, age, source version, enabled.
    Status {
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Serve the Azure simulator on loopback until stopped.
    #[cfg(feature = "simulator")]
    Simulate {
        /// Loopback address to listen on.
        #[arg(long, default_value = "127.0.0.1:8787")]
        listen: std::net::SocketAddr,
        /// Scenario file (TOML): versions, build outcomes, faults; the demo's
        /// (config/scenarios/demo.toml) when absent.
        #[arg(long)]
        scenario: Option<PathBuf>,
    },
    /// Print the shell completion script for SHELL on stdout.
    ///
    /// bash: `image-refresh completions bash > /etc/bash_completion.d/image-refresh`;
    /// the Debian package installs bash, zsh and fish completions already.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the AIB template body the next build of IMAGE would PUT, as
    /// pretty JSON with sorted keys: a dry run to diff. Changes nothing.
    ///
    /// Without --source-version the version is asked of Azure as a check asks
    /// it (exit 1 when Azure cannot tell). The build-id tags show the nil UUID
    /// where a build puts its own id.
    Template {
        /// The image, by catalog name.
        image: String,
        /// The exact source version to render, instead of asking Azure.
        #[arg(long, value_name = "V")]
        source_version: Option<String>,
    },
    /// Turn existing AIB templates into catalog TOML.
    ///
    /// Takes bare templates, ARM resources (as `az resource create
    /// --is-full-object` takes them), ARM deployment templates, list responses
    /// and REST API examples, of any API version. Writes a recipe per distinct
    /// customize list and an image per template; pinned source versions become
    /// "latest". Whatever the catalog cannot express is listed on stderr and
    /// left as a `#` comment where it would have gone. The TOML validates.
    ///
    /// Exit code 0: at least one image was imported (notes may still say what
    /// was left out); 1: nothing could be imported.
    Import {
        /// Template files (JSON).
        #[arg(required = true, value_name = "TEMPLATE.json")]
        files: Vec<PathBuf>,
        /// Write the catalog to FILE instead of stdout; never overwrites.
        /// (Not `--output`, which elsewhere picks table or JSON.)
        #[arg(long, value_name = "FILE")]
        write: Option<PathBuf>,
    },
    /// Write the manual pages (image-refresh.1, image-refresh-check.1, …) into
    /// DIR; hidden because it is for packaging, and the package ships them.
    #[command(hide = true)]
    Man {
        /// Where to write them; made if missing.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, clap::Subcommand)]
pub enum NotifyAction {
    /// Send a `notify_test` event to every sink; exit 0 only if each took it.
    Test {
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
}
