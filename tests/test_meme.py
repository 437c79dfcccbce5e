import numpy as np
from Bio import motifs
from conftest import REPO

from seqlrp.formats.meme import MemeMotif, write_meme
from seqlrp.sequences.planted import load_jaspar_motifs


def test_meme_file_reads_back_with_biopython(tmp_path):
    probabilities = np.array([[0.7, 0.1], [0.1, 0.1], [0.1, 0.1], [0.1, 0.7]])
    write_meme([MemeMotif("M1", "toy", probabilities), MemeMotif("M2", "other", probabilities[:, ::-1])], tmp_path / "m.meme")
    with open(tmp_path / "m.meme") as handle:
        parsed = motifs.parse(handle, "minimal")
    assert [m.name for m in parsed] == ["M1", "M2"]
    got = np.array([parsed[0].pwm[base] for base in "ACGT"])
    np.testing.assert_allclose(got, probabilities, atol=1e-6)


def test_bundled_demo_motifs_match_jaspar():
    with open(REPO / "resources" / "demo_motifs.meme") as handle:
        parsed = {m.name: m for m in motifs.parse(handle, "minimal")}
    for motif in load_jaspar_motifs(["MA0139.2", "MA0080.7", "MA0099.4", "MA0105.4", "MA0138.3"], pseudocount=0.0):
        got = np.array([parsed[motif.matrix_id].pwm[base] for base in "ACGT"])
        # Biopython rebuilds counts as probability x nsites; nsites is JASPAR's own count total
        np.testing.assert_allclose(got, motif.probabilities, atol=2e-3)
