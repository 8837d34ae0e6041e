//! Azure's region pairs: a database's `defaultSecondaryLocation` is its region's pair (the
//! real service answered `westus2` for a database in `westcentralus`, recordings of 2020 and
//! 2022). The pairs are Microsoft's published list ("Azure cross-region replication pairings",
//! learn.microsoft.com/azure/reliability/cross-region-replication-azure).

/// `(region, its pair)`, by ARM's lower-case region name. Some pairs are one-way (Brazil
/// South, West US 3, West India): their pair's own pair is another region.
const PAIRS: &[(&str, &str)] = &[
    ("australiacentral", "australiacentral2"),
    ("australiacentral2", "australiacentral"),
    ("australiaeast", "australiasoutheast"),
    ("australiasoutheast", "australiaeast"),
    ("brazilsouth", "southcentralus"),
    ("canadacentral", "canadaeast"),
    ("canadaeast", "canadacentral"),
    ("centralindia", "southindia"),
    ("centralus", "eastus2"),
    ("chinaeast", "chinanorth"),
    ("chinaeast2", "chinanorth2"),
    ("chinanorth", "chinaeast"),
    ("chinanorth2", "chinaeast2"),
    ("eastasia", "southeastasia"),
    ("eastus", "westus"),
    ("eastus2", "centralus"),
    ("francecentral", "francesouth"),
    ("francesouth", "francecentral"),
    ("germanynorth", "germanywestcentral"),
    ("germanywestcentral", "germanynorth"),
    ("japaneast", "japanwest"),
    ("japanwest", "japaneast"),
    ("koreacentral", "koreasouth"),
    ("koreasouth", "koreacentral"),
    ("northcentralus", "southcentralus"),
    ("northeurope", "westeurope"),
    ("norwayeast", "norwaywest"),
    ("norwaywest", "norwayeast"),
    ("southafricanorth", "southafricawest"),
    ("southafricawest", "southafricanorth"),
    ("southcentralus", "northcentralus"),
    ("southeastasia", "eastasia"),
    ("southindia", "centralindia"),
    ("swedencentral", "swedensouth"),
    ("swedensouth", "swedencentral"),
    ("switzerlandnorth", "switzerlandwest"),
    ("switzerlandwest", "switzerlandnorth"),
    ("uaecentral", "uaenorth"),
    ("uaenorth", "uaecentral"),
    ("uksouth", "ukwest"),
    ("ukwest", "uksouth"),
    ("westcentralus", "westus2"),
    ("westeurope", "northeurope"),
    ("westindia", "southindia"),
    ("westus", "eastus"),
    ("westus2", "westcentralus"),
    ("westus3", "eastus"),
];

/// The pair of `location` (any case, spaces ignored: `West Central US` too); `None` for a
/// region without one (the field is then left out; ours).
pub(crate) fn paired_region(location: &str) -> Option<&'static str> {
    let key: String = location
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    PAIRS
        .binary_search_by(|(region, _)| (*region).cmp(key.as_str()))
        .ok()
        .map(|at| PAIRS[at].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorded_pair_and_display_names() {
        assert_eq!(paired_region("westcentralus"), Some("westus2"));
        assert_eq!(paired_region("West Central US"), Some("westus2"));
        assert_eq!(paired_region("northeurope"), Some("westeurope"));
        assert_eq!(paired_region("westus3"), Some("eastus"));
        assert_eq!(paired_region("mars"), None);
    }

    #[test]
    fn the_table_is_sorted_and_every_pair_is_a_known_region() {
        assert!(
            PAIRS.windows(2).all(|w| w[0].0 < w[1].0),
            "sorted, no duplicates"
        );
        for (region, pair) in PAIRS {
            assert!(
                PAIRS.iter().any(|(r, _)| r == pair),
                "{region}'s pair {pair} is listed"
            );
        }
    }
}
