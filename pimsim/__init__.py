"""pimsim: trace-driven energy, delay and EDP of spiking neural networks on a digital SNN
accelerator with an SRAM processing-in-memory (PIM) first layer."""

__version__ = "0.1.0"
