"""The caches only save time: a file that changed in any way is read again."""
import os

from manage_migrations import cache, loader

MIGRATION = '''revision = {revision!r}
down_revision = {parent!r}
'''


def write(folder, name, revision, parent=None):
    (folder / f"{name}.py").write_text(MIGRATION.format(revision=revision, parent=parent))


def test_the_index_notices_added_removed_and_edited_files(tmp_path):
    versions, kept = tmp_path / "versions", tmp_path / "cache"
    versions.mkdir()
    write(versions, "0001_a", "0001_a")
    write(versions, "0002_b", "0002_b", "0001_a")
    assert [m.revision for m in loader.read_migrations([versions], kept)] == ["0001_a", "0002_b"]
    assert set(cache.load(kept, "index.json")) == {str(versions / "0001_a.py"), str(versions / "0002_b.py")}

    write(versions, "0003_c", "0003_c", "0002_x")
    (versions / "0001_a.py").unlink()
    write(versions, "0001_z", "0001_z")
    old_mtime = cache.load(kept, "index.json")[str(versions / "0002_b.py")]["stamp"][2]
    write(versions, "0002_b", "0002_x", "0001_z")  # same length, same name: an edit in place
    os.utime(versions / "0002_b.py", ns=(old_mtime, old_mtime))  # even with the old mtime

    migrations = loader.read_migrations([versions], kept)

    assert [(m.revision, m.parents) for m in migrations] == [
        ("0001_z", ()), ("0002_x", ("0001_z",)), ("0003_c", ("0002_x",))]
    assert set(cache.load(kept, "index.json")) == {str(versions / name) for name in ("0001_z.py", "0002_b.py", "0003_c.py")}


def test_the_index_answers_from_the_cache_without_reading_unchanged_files(tmp_path, monkeypatch):
    versions, kept = tmp_path / "versions", tmp_path / "cache"
    versions.mkdir()
    write(versions, "0001_a", "0001_a")
    loader.read_migrations([versions], kept)
    monkeypatch.setattr(loader, "read_migration", lambda path: (_ for _ in ()).throw(AssertionError(path)))

    assert [m.revision for m in loader.read_migrations([versions], kept)] == ["0001_a"]


def test_a_cache_that_cannot_be_read_or_written_is_no_cache(tmp_path):
    (tmp_path / "index.json").write_text("{not json")
    assert cache.load(tmp_path, "index.json") == {}
    blocker = tmp_path / "file"
    blocker.write_text("")
    cache.save(blocker / "below-a-file", "index.json", {"a": 1})  # cannot be a folder: skipped
    assert cache.load(None, "index.json") == {}


def test_stamp_changes_when_a_file_is_replaced_and_is_none_once_gone(tmp_path):
    path = tmp_path / "f.py"
    path.write_text("a = 1\n")
    before = cache.stamp(path)
    replacement = tmp_path / "g.py"
    replacement.write_text("a = 2\n")
    os.utime(replacement, ns=(before[2], before[2]))
    os.replace(replacement, path)
    assert cache.stamp(path) != before
    path.unlink()
    assert cache.stamp(path) is None


def test_fingerprint_follows_the_content_of_env_py_and_every_migration(tmp_path):
    migrations = tmp_path / "migrations"
    (migrations / "versions").mkdir(parents=True)
    (migrations / "env.py").write_text("# env\n")
    write(migrations / "versions", "0001_a", "0001_a")

    def fingerprint():
        return loader.fingerprint(migrations / "env.py", loader.migration_files([migrations / "versions"]))

    first = fingerprint()
    write(migrations / "versions", "0001_a", "0001_b")
    second = fingerprint()
    (migrations / "env.py").write_text("# env, edited\n")
    assert len({first, second, fingerprint()}) == 3


def test_a_write_that_fails_half_way_leaves_no_partial_file(tmp_path):
    """The rename into place fails (here: a folder stands where the file goes); what was written
    so far is removed, not left as index.json.<pid>."""
    (tmp_path / "index.json").mkdir()
    cache.save(tmp_path, "index.json", {"a": 1})
    assert sorted(path.name for path in tmp_path.iterdir()) == ["index.json"]
