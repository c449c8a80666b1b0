//! Strain file readers (being written).
