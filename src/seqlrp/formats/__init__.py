"""File formats and I/O: what the pipeline reads and writes, and nothing about models.

Inputs: genome FASTA (:mod:`.genome`, :mod:`.fasta_index`), BED/narrowPeak (:mod:`.regions`), FASTA
of sequences (:mod:`.records`), config YAML with line numbers (:mod:`.config_file`), gzip text
(:mod:`.textfiles`). The one-hot encoding (:mod:`.onehot`). Outputs: bigWig (:mod:`.bigwig`),
bedGraph + BGZF + tabix (:mod:`.bedgraph`, :mod:`.bgzf`, :mod:`.tabix`), BED track lines
(:mod:`.trackline`), MEME motifs (:mod:`.meme`), IGV sessions (:mod:`.igv`), the regions table
(:mod:`.table`), large arrays (:mod:`.arrays`), atomic writes (:mod:`.atomic`), safe path names
(:mod:`.names`). Modules here import only each other, :mod:`seqlrp.errors` and third-party readers.
"""
