// Placeholder: filled in by the sparse work in progress.
export {};
