//! The incremental driver: files and restore progress in, a [`Plan`] out.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use lrs_backup::Guid;

use crate::chain::{self, ChainState, Inputs};
use crate::plan::Plan;
use crate::report::{self, FileEntry, Progress};
use crate::sets::{GuidSet, Options, SetGroup, SetId, SetTable, SourceFile, StripeRef};

/// Incremental planner: feed it files as they are found and restore progress as it happens;
/// ask for the [`Plan`] at any time.
#[derive(Debug, Clone, Default)]
pub struct Planner {
    options: Options,
    files: HashMap<String, FileEntry>,
    sets: SetTable,
    /// Restored sets in restore order (the first pins the base) ...
    restored: Vec<Guid>,
    /// ... and as a set, so that a set found after its restore was reported is marked too.
    restored_set: GuidSet,
    restoring: Option<Guid>,
    state: Option<ChainState>,
    /// Database names, shared by all the sets of a database.
    names: BTreeMap<String, Arc<str>>,
    /// How many files are not readable backups.
    unreadable: usize,
}

impl Planner {
    /// An empty planner.
    pub fn new(options: Options) -> Self {
        Self {
            options,
            ..Self::default()
        }
    }

    /// Plan a whole folder at once.
    pub fn plan_files(options: Options, files: impl IntoIterator<Item = SourceFile>) -> Plan {
        let mut planner = Planner::new(options);
        for file in files {
            planner.add_file(file);
        }
        planner.plan()
    }

    /// A new (or changed) file. New log backups that continue the chain extend the plan in
    /// place; anything else is replanned on the next [`Planner::plan`].
    pub fn add_file(&mut self, file: SourceFile) {
        if self.files.contains_key(&file.name) {
            self.remove_file(&file.name);
        }
        let media = match file.content {
            Err(reason) => {
                self.unreadable += 1;
                self.files.insert(
                    file.name,
                    FileEntry {
                        content: Err(reason),
                    },
                );
                return;
            }
            Ok(media) => media,
        };
        let mut contributed = Vec::new();
        let mut new_sets: Vec<SetId> = Vec::new();
        let shared_name: Arc<str> = Arc::from(file.name.as_str());
        for set in media.sets {
            let guid = set.header.backup_set_guid;
            let family = set.media.family_sequence_number;
            let stripe = StripeRef {
                file: Arc::clone(&shared_name),
                position: set.header.position,
                family,
            };
            let known = self
                .sets
                .id_of(&guid)
                .and_then(|id| self.sets.get(id).map(|g| (id, g)));
            match known {
                // Families of one set share its media set; anything else is not a stripe of it.
                Some((id, group)) if group.media_set_id == set.media.media_set_id => {
                    // Headers come from the lowest family present, whatever the upload order.
                    if group.stripes.keys().next().is_none_or(|&l| family < l) {
                        self.sets.set_header(id, &set.header, &mut self.names);
                    }
                    if let Some(group) = self.sets.get_mut(id) {
                        group.stripes.entry(family).or_insert(stripe);
                        group.stripes_changed();
                    }
                    // A set that gains a stripe may unblock anything: replan.
                    self.state = None;
                }
                Some(_) => continue,
                None => {
                    let restored = self.restored_set.contains(&guid);
                    let group =
                        SetGroup::new(&set.header, &set.media, stripe, restored, &mut self.names);
                    match self.sets.insert(group) {
                        Some(id) => new_sets.push(id),
                        // The table is full (4 billion sets): nothing more can be planned.
                        None => continue,
                    }
                }
            }
            contributed.push((guid, family));
        }
        self.files.insert(
            file.name,
            FileEntry {
                content: Ok(contributed),
            },
        );
        for id in new_sets {
            if let Some(state) = self.state.as_mut()
                && !chain::extend(state, &self.sets, &self.options, id)
            {
                self.state = None;
            }
        }
    }

    /// A file disappeared from the folder.
    pub fn remove_file(&mut self, name: &str) {
        let Some(entry) = self.files.remove(name) else {
            return;
        };
        let parts = match entry.content {
            Err(_) => {
                self.unreadable = self.unreadable.saturating_sub(1);
                return;
            }
            Ok(parts) => parts,
        };
        for (guid, family) in parts {
            let Some(id) = self.sets.id_of(&guid) else {
                continue;
            };
            let Some(group) = self.sets.get_mut(id) else {
                continue;
            };
            if group.stripes.get(&family).is_some_and(|s| &*s.file == name) {
                group.stripes.remove(&family);
                group.stripes_changed();
            }
            if group.stripes.is_empty() {
                self.sets.remove(id);
            }
        }
        self.state = None;
    }

    /// The set is being restored now.
    pub fn mark_restoring(&mut self, guid: Guid) {
        self.restoring = Some(guid);
    }

    /// The set was restored (in this order). The restored sets pin the base and differential.
    pub fn mark_restored(&mut self, guid: Guid) {
        if self.restoring == Some(guid) {
            self.restoring = None;
        }
        if self.restored_set.insert(guid) {
            self.restored.push(guid);
        }
        if let Some(group) = self.sets.id_of(&guid).and_then(|id| self.sets.get_mut(id)) {
            group.chain.restored = true;
        }
    }

    /// The current plan.
    pub fn plan(&mut self) -> Plan {
        let state = self.state.get_or_insert_with(|| {
            chain::compute(
                &self.sets,
                &Inputs {
                    options: &self.options,
                    restored: &self.restored,
                },
            )
        });
        report::report(
            state,
            &Progress {
                sets: &self.sets,
                files: &self.files,
                restoring: self.restoring,
                unreadable: self.unreadable,
            },
        )
    }
}
