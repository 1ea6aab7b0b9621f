#!/usr/bin/env bash
# INT-1C-1 benchmark: a generated CommerceML catalog of N products (default 10 000) in 50
# groups, then offers with one price and stock in one warehouse each, imported through the
# real /1c-exchange sequence (checkauth → init → file in 1 MiB parts → import until success).
# Usage: bench/cml_catalog.sh <base-url> <email> <password> [N]
set -euo pipefail
BASE=${1:?base url, e.g. http://127.0.0.1:8080}; USER=${2:?email}; PASS=${3:?password}; N=${4:-10000}
DIR=$(mktemp -d)
python3 - "$DIR" "$N" <<'PY'
import sys
d, n = sys.argv[1], int(sys.argv[2])
groups = "".join(f"<Группа><Ид>g-{i}</Ид><Наименование>Группа {i}</Наименование></Группа>" for i in range(50))
items = "".join(
    f"<Товар><Ид>00000000-0000-4000-8000-{i:012d}</Ид><Артикул>A-{i}</Артикул><Наименование>Товар {i}</Наименование>"
    f"<БазоваяЕдиница Код=\"796\">шт</БазоваяЕдиница><Группы><Ид>g-{i % 50}</Ид></Группы>"
    f"<СтавкиНалогов><СтавкаНалога><Наименование>НДС</Наименование><Ставка>20</Ставка></СтавкаНалога></СтавкиНалогов></Товар>"
    for i in range(n))
open(f"{d}/import.xml", "w").write(
    f'<?xml version="1.0" encoding="UTF-8"?><КоммерческаяИнформация ВерсияСхемы="2.07"><Классификатор><Ид>c</Ид><Группы>{groups}</Группы></Классификатор>'
    f'<Каталог СодержитТолькоИзменения="false"><Ид>c</Ид><Товары>{items}</Товары></Каталог></КоммерческаяИнформация>')
offers = "".join(
    f"<Предложение><Ид>00000000-0000-4000-8000-{i:012d}</Ид><Цены><Цена><ИдТипаЦены>p</ИдТипаЦены><ЦенаЗаЕдиницу>{100 + i % 900}.50</ЦенаЗаЕдиницу></Цена></Цены>"
    f"<Количество>{i % 40}</Количество><Склад ИдСклада=\"w\" КоличествоНаСкладе=\"{i % 40}\"/></Предложение>"
    for i in range(n))
open(f"{d}/offers.xml", "w").write(
    f'<?xml version="1.0" encoding="UTF-8"?><КоммерческаяИнформация ВерсияСхемы="2.07"><ПакетПредложений СодержитТолькоИзменения="false"><Ид>c#</Ид>'
    f'<ТипыЦен><ТипЦены><Ид>p</Ид><Наименование>Розничная</Наименование><Валюта>RUB</Валюта></ТипЦены></ТипыЦен>'
    f'<Склады><Склад><Ид>w</Ид><Наименование>Склад</Наименование></Склад></Склады><Предложения>{offers}</Предложения></ПакетПредложений></КоммерческаяИнформация>')
PY
X="$BASE/1c-exchange"
A=$(curl -s -u "$USER:$PASS" "$X?type=catalog&mode=checkauth")
[ "$(echo "$A" | head -1)" = success ] || { echo "$A"; exit 1; }
C="$(echo "$A" | sed -n 2p)=$(echo "$A" | sed -n 3p)"
curl -s -b "$C" "$X?type=catalog&mode=init" >/dev/null
for f in import.xml offers.xml; do
  split -b 1048576 "$DIR/$f" "$DIR/$f.part."
  start=$(date +%s.%N); calls=0
  for p in "$DIR/$f.part."*; do curl -s -b "$C" --data-binary @"$p" "$X?type=catalog&mode=file&filename=$f" >/dev/null; done
  while :; do
    calls=$((calls + 1))
    R=$(curl -s -b "$C" "$X?type=catalog&mode=import&filename=$f")
    case "$(echo "$R" | head -1)" in success) break ;; progress) ;; *) echo "$R"; exit 1 ;; esac
  done
  end=$(date +%s.%N)
  echo "$f: $N items, $(du -h "$DIR/$f" | cut -f1), upload + $calls import calls in $(echo "$end - $start" | bc) s"
done
rm -rf "$DIR"
