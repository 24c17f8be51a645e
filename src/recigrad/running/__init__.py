"""Running methods: training runs (``train``: the loop), their run folders (``runfolder``),
checkpoints (``checkpoint``: files, atomic writes, header, checksums), plots (``plots``),
the benchmark suite (``suite``), its statistics (``stats``) and report (``report``), and
its distributed backend (``distributed``)."""
