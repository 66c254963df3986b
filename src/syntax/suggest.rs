//! "Did you mean" for syntax: keyword aliases from YAML-based rollout tools and edit distance.

/// Field names of other rollout tools (and common words) mapped to our keyword.
/// Compared case-insensitively, ignoring `_` and `-`.
const ALIASES: &[(&str, &str)] = &[
    ("maxunavailable", "batch"),
    ("maxupdate", "batch"),
    ("maxconcurrency", "batch"),
    ("maxparallel", "batch"),
    ("concurrency", "batch"),
    ("parallelism", "batch"),
    ("batchsize", "batch"),
    ("maxclusters", "limit"),
    ("maxtargets", "limit"),
    ("topologykey", "spread by"),
    ("spread", "spread by"),
    ("spreadby", "spread by"),
    ("sortinglabelkey", "order by"),
    ("order", "order by"),
    ("orderby", "order by"),
    ("selector", "select"),
    ("clusters", "select"),
    ("matchlabels", "select"),
    ("bake", "bake"),
    ("baketime", "bake"),
    ("soak", "bake"),
    ("soaktime", "bake"),
    ("wait", "bake"),
    ("minsuccesstime", "bake each"),
    ("bakeeach", "bake each"),
    ("progressdeadline", "deadline"),
    ("timeout", "deadline"),
    ("maxfailures", "tolerate"),
    ("failurebudget", "tolerate"),
    ("maxinflight", "max in flight"),
    ("requeue", "requeue"),
    ("onfailure", "on failure"),
    ("failurepolicy", "on failure"),
    ("stages", "stage"),
    ("steps", "stage"),
    ("step", "stage"),
    ("sourceref", "target"),
    ("target", "target"),
    ("defaults", "defaults"),
];

fn normalise(word: &str) -> String {
    word.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The keyword among `keywords` that `word` means: an exact keyword (`batch:`), a known alias
/// (`maxUnavailable`), or a close misspelling (`bacth`).
pub fn field_for_alias(word: &str, keywords: &[&'static str]) -> Option<&'static str> {
    let norm = normalise(word);
    if let Some(k) = keywords.iter().find(|k| normalise(k) == norm) {
        return Some(k);
    }
    if let Some((_, k)) = ALIASES.iter().find(|(alias, _)| *alias == norm)
        && let Some(k) = keywords.iter().find(|kw| *kw == k)
    {
        return Some(k);
    }
    // A misspelt alias (`concurency`), judged strictly: aliases are long and many.
    let aliases: Vec<&str> = ALIASES.iter().map(|(a, _)| *a).collect();
    if let Some(alias) = closest_at(&norm, &aliases, 0.8)
        && let Some((_, k)) = ALIASES.iter().find(|(a, _)| *a == alias)
        && let Some(k) = keywords.iter().find(|kw| *kw == k)
    {
        return Some(k);
    }
    // A misspelt keyword, or the misspelt first word of one (`spred by`, `mx in flight`).
    closest(word, keywords).or_else(|| {
        let firsts: Vec<&str> = keywords
            .iter()
            .map(|k| k.split(' ').next().unwrap_or(k))
            .collect();
        let first = closest(word, &firsts)?;
        keywords
            .iter()
            .find(|k| k.split(' ').next() == Some(first))
            .copied()
    })
}

/// [`closest`] with a given similarity threshold.
pub fn closest_at<'a>(word: &str, candidates: &[&'a str], threshold: f64) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::normalized_damerau_levenshtein(word, c), *c))
        .filter(|(score, _)| *score >= threshold)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// The candidate closest to `word`, if it is close enough to be a plausible typo.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    closest_at(word, candidates, 0.6)
}

/// `` `a`, `b` or `c` ``.
pub fn list(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::lower::FIELD_KEYWORDS;

    #[test]
    fn aliases_and_typos() {
        assert_eq!(
            field_for_alias("maxUnavailable", FIELD_KEYWORDS),
            Some("batch")
        );
        assert_eq!(
            field_for_alias("topologyKey", FIELD_KEYWORDS),
            Some("spread by")
        );
        assert_eq!(field_for_alias("bacth", FIELD_KEYWORDS), Some("batch"));
        assert_eq!(field_for_alias("zzz", FIELD_KEYWORDS), None);
        assert_eq!(field_for_alias("spred", FIELD_KEYWORDS), Some("spread by"));
        assert_eq!(field_for_alias("mx", FIELD_KEYWORDS), Some("max in flight"));
        assert_eq!(field_for_alias("concurency", FIELD_KEYWORDS), Some("batch"));
        assert_eq!(list(&["a", "b", "c"]), "`a`, `b` or `c`");
    }
}
