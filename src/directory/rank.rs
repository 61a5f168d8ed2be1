//! How well a listing answers the words a patient typed: each typed word is matched against
//! the listing's words (name, aliases, brand, portal, city, state) by edit distance, so typos
//! ("sunrize famly medicne") and word order do not matter; words of the name weigh most.

/// Words of a text, lower case, letters and digits only.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The trigrams the full-text index is asked for, word by word: of each typed word of three
/// letters or more, every three-letter run (a misspelt word keeps most of its word's).
pub fn trigrams(query: &[String]) -> Vec<Vec<String>> {
    query
        .iter()
        .map(|word| {
            let chars: Vec<char> = word.chars().collect();
            let mut runs: Vec<String> = Vec::new();
            for run in chars.windows(3) {
                let t: String = run.iter().collect();
                if !runs.contains(&t) {
                    runs.push(t);
                }
            }
            runs
        })
        .filter(|runs| !runs.is_empty())
        .collect()
}

/// Levenshtein distance between two short words (characters, not bytes).
fn distance(a: &[char], b: &[char]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// How alike a typed word and a listing's word are, 0 to 1: 1 for the same word or a typed
/// prefix of three letters or more ("fam" of "family"), else 1 − edits / length.
fn similarity(typed: &str, word: &str) -> f64 {
    if typed == word || (typed.chars().count() >= 3 && word.starts_with(typed)) {
        return 1.0;
    }
    let a: Vec<char> = typed.chars().collect();
    let b: Vec<char> = word.chars().collect();
    let longest = a.len().max(b.len()).max(1);
    1.0 - distance(&a, &b) as f64 / longest as f64
}

/// Below this a typed word is not found in a listing.
const FOUND: f64 = 0.6;

/// The score of a listing for the typed words: for each typed word its best match among the
/// name's words (full weight) or the other fields' (¾ weight), averaged; 0 when fewer than
/// half the typed words are found.
pub fn score(typed: &[String], name: &[String], others: &[String]) -> f64 {
    if typed.is_empty() {
        return 0.0;
    }
    let mut total = 0.0;
    let mut found = 0;
    for t in typed {
        let in_name = name.iter().map(|w| similarity(t, w)).fold(0.0, f64::max);
        let elsewhere = others
            .iter()
            .map(|w| similarity(t, w) * 0.75)
            .fold(0.0, f64::max);
        let best = in_name.max(elsewhere);
        if best >= FOUND * 0.75 {
            found += 1;
            total += best;
        }
    }
    if found * 2 < typed.len() {
        return 0.0;
    }
    // Each extra unmatched word of the name costs a little, so an exact name ranks first.
    let spare = name.len().saturating_sub(typed.len()) as f64;
    total / typed.len() as f64 - spare * 0.01
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score_of(typed: &str, name: &str, others: &str) -> f64 {
        score(&words(typed), &words(name), &words(others))
    }

    #[test]
    fn typos_and_word_order_are_forgiven() {
        let s = score_of("sunrize famly medicne", "Sunrise Family Medicine", "");
        assert!(s > 0.8, "{s}");
        let s = score_of("medicine sunrise", "Sunrise Family Medicine", "");
        assert!(s > 0.9, "{s}");
        assert_eq!(
            score_of("cardiology boston", "Sunrise Family Medicine", ""),
            0.0
        );
    }

    #[test]
    fn the_name_outranks_other_fields() {
        let by_name = score_of("springfield", "Springfield Clinic", "");
        let by_city = score_of("springfield", "Oak Clinic", "Springfield IL");
        assert!(by_name > by_city && by_city > 0.0, "{by_name} {by_city}");
    }

    #[test]
    fn exact_names_rank_first() {
        let exact = score_of("oak clinic", "Oak Clinic", "");
        let longer = score_of("oak clinic", "Oak Clinic of Pediatrics North", "");
        assert!(exact > longer, "{exact} {longer}");
    }

    #[test]
    fn trigrams_of_each_word() {
        assert_eq!(
            trigrams(&words("Oak, Sunr")),
            [vec!["oak"], vec!["sun", "unr"]]
        );
        assert!(trigrams(&words("md")).is_empty());
    }

    #[test]
    fn distance_counts_edits() {
        let d = |a: &str, b: &str| {
            distance(
                &a.chars().collect::<Vec<_>>(),
                &b.chars().collect::<Vec<_>>(),
            )
        };
        assert_eq!(d("kitten", "sitting"), 3);
        assert_eq!(d("", "abc"), 3);
        assert_eq!(d("famly", "family"), 1);
    }
}
