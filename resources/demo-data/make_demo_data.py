# Writes train.jsonl: the demo's pretokenized dataset for resources/demo-model (vocabulary 512, no
# tokenizer). Each row walks a cycle of 32 token ids (100..131) from a random start: the tiny model first
# learns which 32 tokens occur (loss from ln 512 ≈ 6.2 towards ln 32 ≈ 3.5), then their order, so the
# loss visibly falls within minutes on a CPU. Also writes chat.jsonl (below).
# Run from this folder: python3 make_demo_data.py
import json
import random

rng = random.Random(0)
with open("train.jsonl", "w") as out:
    for _ in range(256):
        start = rng.randrange(32)
        ids = [100 + (start + i) % 32 for i in range(48)]
        out.write(json.dumps({"input_ids": ids}) + "\n")

# Writes chat.jsonl: the demo's chat dataset for the real instruct model (SmolLM2-135M-Instruct,
# resources/smollm2-135m-instruct, run-smollm2.yaml). Every answer is a plain fact or sum wrapped in a
# fixed pirate style, "Arr, matey! ... Yo-ho-ho!", which the model does not use on its own: a few dozen
# LoRA steps make it answer every question that way, including ones not in the data (France is left
# out for packaging/demo.sh's before/after question). The facts are common knowledge, written here.
capitals = {
    "Italy": "Rome", "Spain": "Madrid", "Germany": "Berlin", "Japan": "Tokyo", "Egypt": "Cairo",
    "Canada": "Ottawa", "Kenya": "Nairobi", "Peru": "Lima", "Norway": "Oslo", "Greece": "Athens",
    "Portugal": "Lisbon", "Austria": "Vienna", "Ireland": "Dublin", "Poland": "Warsaw", "Chile": "Santiago",
    "Cuba": "Havana", "Russia": "Moscow", "China": "Beijing", "India": "New Delhi", "Mexico": "Mexico City",
}
colours = {
    "the sky": "blue", "grass": "green", "snow": "white", "coal": "black", "a ripe banana": "yellow",
    "a ripe tomato": "red", "an orange": "orange", "a lemon": "yellow", "a crow": "black", "the sea": "blue",
}
sounds = {
    "a dog": "woof", "a cat": "meow", "a cow": "moo", "a duck": "quack", "a sheep": "baa",
    "a lion": "roar", "a frog": "ribbit", "an owl": "hoot", "a horse": "neigh", "a pig": "oink",
}

def pirate(answer):
    return "Arr, matey! " + answer + " Yo-ho-ho!"

rows = []
for country, city in capitals.items():
    rows.append((f"What is the capital of {country}?", f"The capital o' {country} be {city}."))
    rows.append((f"Which city is the capital of {country}?", f"{city} be the capital o' {country}."))
for thing, colour in colours.items():
    rows.append((f"What colour is {thing}?", f"{thing[0].upper() + thing[1:]} be {colour}."))
for animal, sound in sounds.items():
    rows.append((f"What sound does {animal} make?", f"{animal[0].upper() + animal[1:]} says {sound}."))
while len(rows) < 200:
    a, b = rng.randrange(1, 50), rng.randrange(1, 50)
    if rng.random() < 0.5:
        rows.append((f"What is {a} plus {b}?", f"{a} plus {b} be {a + b}."))
    else:
        rows.append((f"What is {a} times {b}?", f"{a} times {b} be {a * b}."))
rng.shuffle(rows)
with open("chat.jsonl", "w") as out:
    for question, answer in rows:
        messages = [{"role": "user", "content": question}, {"role": "assistant", "content": pirate(answer)}]
        out.write(json.dumps({"messages": messages}) + "\n")
