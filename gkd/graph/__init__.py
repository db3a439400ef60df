"""Graph machinery with no model and no method in it: CSR adjacency matrices and the products over
them (``adjacency``), neighbour sampling (``sampling``), random walks and DeepWalk embeddings
(``walks``), and image feature maps as token graphs (``tokens``)."""
