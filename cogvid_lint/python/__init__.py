"""Pure analysis of Python sources for the code rules (CVL400-CVL403).

- `source`: `parse_source(data) -> Module | SyntaxProblem` (never raises), offsets.
- `model`: `build_model(tree) -> ModuleModel`, the execution-order import model.
- `classify`: `is_torch_import`, `is_decord_import`, `matches_entry_point`, `module_package`.
- `order`: `decord_violations` (CVL401), `unguarded_decord` (CVL402).
- `sorters`: `detect_sorters(root) -> tuple[Sorter, ...]` (isort / ruff / pre-commit; `sorter`, `precommit`).
- `guards`: `scan_comments(text) -> Comments` (isort: skip/off/on/split, noqa I001).
- `graph`: `import_graph(project, torch_modules, entry_points) -> list[Chain]` (CVL403),
  `may_reach_decord(project)`.
- `facts`: `file_facts(data) -> FileFacts`, what the checks read of a file (cacheable data).
- `fact_cache`: `facts_of(project) -> FactStore`, the facts of a run's files, from the cache
  when a file is unchanged (the `python_facts` table of the probe cache's database).
- `fixes`: `move_fix`, `add_torch_fix`, `guard_fix` (text edits).
"""
