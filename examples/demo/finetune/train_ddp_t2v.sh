#!/usr/bin/env bash
# Launch script in the style of CogVideo's finetune/train_ddp_t2v.sh.
export TOKENIZERS_PARALLELISM=false

MODEL_ARGS=(
    --model_path "THUDM/CogVideoX-5b"
    --model_name "cogvideox-t2v"
    --model_type "t2v"
    --training_type "lora"
)

DATA_ARGS=(
    --data_root "../data"
    --caption_column "prompts.txt"
    --video_column "videos.txt"
    --train_resolution "49x480x720"
)

accelerate launch train.py "${MODEL_ARGS[@]}" "${DATA_ARGS[@]}"
