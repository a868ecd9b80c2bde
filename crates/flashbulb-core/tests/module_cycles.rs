//! Cargo keeps the crates' arrows pointing down; this keeps the modules inside the core and
//! the store from importing each other in a circle. It reads each top-level module's source
//! (tests left out), collects the `crate::…` paths it names and fails on any cycle, naming it.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

type Graph = BTreeMap<String, BTreeSet<String>>;

#[test]
fn the_core_has_no_module_cycle() {
    assert_no_cycle(&crate_dir("src"));
}

#[test]
fn the_store_has_no_module_cycle() {
    assert_no_cycle(&crate_dir("../flashbulb-store/src"));
}

#[test]
fn a_cycle_is_found() {
    let graph: Graph = [("a", "b"), ("b", "c"), ("c", "a")]
        .into_iter()
        .map(|(from, to)| (from.to_string(), BTreeSet::from([to.to_string()])))
        .collect();
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into()])
    );
}

#[test]
fn grouped_and_nested_imports_are_read() {
    let text =
        "use crate::{db::Pool, live::{Hub, Relay}, CoreError};\nfn f() { crate::media::x(); }\n\
                #[cfg(test)]\nmod tests { use crate::jobs; }";
    let named = named_modules(text);
    assert_eq!(
        named,
        BTreeSet::from(["db", "live", "CoreError", "media"].map(String::from))
    );
}

fn crate_dir(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn assert_no_cycle(src: &Path) {
    let graph = module_graph(src);
    assert!(graph.len() > 5, "no modules found under {}", src.display());
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "the modules of {} import each other in a circle: {} → {}",
            src.display(),
            cycle.join(" → "),
            cycle[0]
        );
    }
}

/// Each top-level module (a `name.rs` or a `name/` folder beside `lib.rs`) and the other
/// top-level modules its non-test code names.
fn module_graph(src: &Path) -> Graph {
    let mut files: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for entry in std::fs::read_dir(src).expect("the crate's source folder") {
        let path = entry.expect("a folder entry").path();
        let name = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .unwrap_or_default()
            .to_string();
        if path.is_dir() {
            files.entry(name).or_default().extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") && name != "lib" {
            files.entry(name).or_default().push(path);
        }
    }
    let modules: BTreeSet<String> = files.keys().cloned().collect();
    files
        .iter()
        .map(|(module, paths)| {
            let named = paths
                .iter()
                .flat_map(|path| named_modules(&std::fs::read_to_string(path).expect("a source")))
                .filter(|name| name != module && modules.contains(name))
                .collect();
            (module.clone(), named)
        })
        .collect()
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("a module folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            found.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
    found
}

/// The first segment of every `crate::` path in `text`, tests and comments left out.
fn named_modules(text: &str) -> BTreeSet<String> {
    // Test modules close their files by convention.
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let code: String = code
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let mut named = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item_start = true;
            for (index, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 1 => item_start = true,
                    c if item_start && depth == 1 && (c.is_alphanumeric() || c == '_') => {
                        named.insert(identifier(&group[index..]));
                        item_start = false;
                    }
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
            }
        } else {
            named.insert(identifier(rest));
        }
    }
    named.retain(|name| !name.is_empty() && name != "self");
    named
}

fn identifier(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// One cycle of the graph, from its first module in name order, if there is any.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        module: &str,
        graph: &Graph,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|seen| seen == module) {
            return Some(path[start..].to_vec());
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.to_string());
        for next in graph.get(module).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(module.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|module| visit(module, graph, &mut Vec::new(), &mut done))
}
