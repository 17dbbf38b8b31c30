// Package lora takes a PEFT LoRA adapter for Qwen2-VL from Hugging Face to
// llama.cpp without Python: it reads adapter_config.json and
// adapter_model.safetensors, maps the module names of both transformers
// naming schemes (before 4.52: model.layers.N…, visual.blocks.N…; from 4.52:
// model.language_model.layers.N…, model.visual.blocks.N…) onto the tensor
// names of the GGUF files published for llama.cpp, and either
//
//   - converts the language-model part into a llama.cpp LoRA adapter GGUF,
//     applied at load time with a scale ([Convert]), or
//   - merges it, vision tower and merger included, into copies of the model
//     and mmproj GGUF files ([Merge]).
//
// Scaling follows PEFT exactly: alpha/r per module, alpha/√r with
// use_rslora, rank_pattern and alpha_pattern per module. llama.cpp applies
// one alpha per adapter file and divides by each module's rank, so Convert
// writes the alpha that gives the most common module its scale and folds any
// other module's correction factor into its lora_b.
//
// Merging computes W' = W + s·(α/r)·B·A per row in float64 and rounds once to
// the stored type; base tensors are read and written row by row, so memory
// stays near one row of the largest tensor plus the adapter. Untouched
// tensors are copied byte for byte. GGUF files are read, checked and written
// with package llm/gguf; the float64-to-F16/BF16 rounding is in
// llm/lora/floats.
package lora
